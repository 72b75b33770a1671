"""`riskwatch disposal check` on a temporary SQLite store: a deadline round outside the worker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from typer.testing import CliRunner

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.store.store import WarningStore
from riskwatch.contracts import Level
from riskwatch.tools.disposal_cli import register
from tests.store_contract import make_warning, save

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_check_escalates_what_is_overdue_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rw.db'}"
    long_ago = WarningStore(url, clock=ManualClock(datetime(2025, 1, 1, tzinfo=UTC)))  # saved then: long overdue now
    long_ago.migrate()
    save(long_ago, make_warning(warning_id="w-old", level=Level.I))
    chain = long_ago.routing.escalation_chain

    first = runner.invoke(_app(), ["disposal", "check", "--database-url", url])
    assert first.exit_code == 0, first.output
    assert "w-old: acknowledge deadline" in first.output and f"{chain[0]} → {chain[1]}" in first.output
    assert "w-old: resolve deadline" in first.output
    again = runner.invoke(_app(), ["disposal", "check", "--database-url", url])
    assert again.exit_code == 0 and "w-old" not in again.output  # re-armed: nothing twice
    assert [e.deadline for e in long_ago.disposals.escalations("w-old")] == ["acknowledge", "resolve"]
    long_ago.close()


def test_check_on_a_bad_config_dir_fails_with_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RISKWATCH_CONFIG_DIR", str(tmp_path / "nowhere"))
    result = runner.invoke(_app(), ["disposal", "check", "--database-url", f"sqlite:///{tmp_path / 'rw.db'}"])
    assert result.exit_code == 2
    assert "routing.yaml" in result.output

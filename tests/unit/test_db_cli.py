"""`riskwatch db upgrade` and `riskwatch token ...` on a temporary SQLite store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from sqlalchemy import insert
from typer.testing import CliRunner

from riskwatch.alerts.store.schema import current_revision, head_revision
from riskwatch.alerts.store.store import WarningStore
from riskwatch.alerts.store.tables import WarningRow, WarningVersionRow
from riskwatch.alerts.store.tokens import Role
from riskwatch.alerts.store.warnings import warning_to_row
from riskwatch.contracts import MsgType
from riskwatch.tools.db_cli import register
from tests.store_contract import make_warning, save

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_db_upgrade_and_token_lifecycle(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rw.db'}"
    app = _app()
    upgraded = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"is at revision {head_revision()}" in upgraded.output

    created = runner.invoke(
        app, ["token", "create", "--name", "供水值班", "--role", "operator", "--department", "water_group", "--database-url", url]
    )
    assert created.exit_code == 0, created.output
    token = re.search(r"token:\s+(\S+)", created.output).group(1)  # type: ignore[union-attr]
    token_id = re.search(r"token_id:\s+(\S+)", created.output).group(1)  # type: ignore[union-attr]
    store = WarningStore(url)
    identity = store.tokens.identify(token)
    assert identity is not None and (identity.role, identity.department) == (Role.operator, "water_group")

    listed = runner.invoke(app, ["token", "list", "--json", "--database-url", url])
    assert [json.loads(line)["token_id"] for line in listed.output.splitlines()] == [token_id]
    assert token not in listed.output

    assert runner.invoke(app, ["token", "revoke", token_id, "--database-url", url]).exit_code == 0
    assert store.tokens.identify(token) is None
    again = runner.invoke(app, ["token", "revoke", token_id, "--database-url", url])
    assert again.exit_code == 1 and "no active token" in again.output
    store.close()


def test_token_create_refuses_an_operator_without_department(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["token", "create", "--name", "x", "--role", "operator", "--database-url", f"sqlite:///{tmp_path / 'rw.db'}"])
    assert result.exit_code == 2
    assert "operator token needs --department" in result.output


def test_migrate_adopts_a_database_made_before_migrations(tmp_path: Path) -> None:
    """A store file with only the two original tables (made by `create_all`) keeps its warnings."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = WarningStore(url)
    old = make_warning()
    WarningRow.metadata.create_all(store.engine, tables=[WarningRow.__table__, WarningVersionRow.__table__])
    with store.engine.begin() as conn:
        conn.execute(insert(WarningRow).values(**warning_to_row(old), created_at=old.updated_at))
    assert current_revision(store.engine) is None

    store.migrate()
    assert current_revision(store.engine) == head_revision()
    assert store.warnings.get(old.warning_id) == old
    newer = make_warning(version=2, msg_type=MsgType.update)
    assert save(store, newer) is True
    assert store.disposals.get(old.warning_id) is not None
    store.close()

"""`riskwatch api`: migrates the store named by the settings and serves the app with uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from fastapi import FastAPI
from sqlalchemy import inspect
from typer.testing import CliRunner

from riskwatch.alerts.store.store import WarningStore
from riskwatch.tools.api_cli import register


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command, so typer keeps `api` as a subcommand
        """Unused."""

    return app


def test_api_serves_the_configured_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app, **kwargs))
    url = f"sqlite:///{tmp_path / 'rw.db'}"
    monkeypatch.setenv("RISKWATCH_DATABASE_URL", url)
    result = CliRunner().invoke(_cli(), ["api", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert isinstance(served["app"], FastAPI)
    assert (served["host"], served["port"]) == ("0.0.0.0", 8123)
    assert served["app"].state.ctx.store.url.database == str(tmp_path / "rw.db")
    store = WarningStore(url)
    try:
        assert {"warnings", "transitions", "api_tokens"} <= set(inspect(store.engine).get_table_names())
    finally:
        store.close()


def test_help_says_where_tokens_come_from_and_what_is_served() -> None:
    result = CliRunner().invoke(_cli(), ["api", "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert "riskwatch token create --name NAME --role ROLE [--department CODE]" in result.output
    for path in ("/docs", "/cap/feed.atom", "/metrics", "RISKWATCH_DATABASE_URL"):
        assert path in result.output, path
    assert "  /               web view" in result.output

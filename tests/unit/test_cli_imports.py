"""The `riskwatch` command starts light: its help pages load none of the heavy libraries, which only
the command bodies import; and the `python -m` entry points still run their commands."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from riskwatch.alerts.reports.period import ReportKind
from riskwatch.alerts.store.tokens import Role
from riskwatch.tools import db_cli, report_cli

ROOT = Path(__file__).resolve().parents[2]

#: Libraries a help page must not need; each takes from tenths of a second to seconds to import.
HEAVY = ("pandas", "numpy", "faust", "sqlalchemy", "fastapi", "prophet", "pyod", "matplotlib")

#: Every command and command group of the README's Commands table.
COMMANDS = {
    ("demo",), ("api",), ("db",), ("db", "upgrade"), ("token",), ("token", "create"), ("token", "list"),
    ("token", "revoke"), ("report",), ("report", "daily"), ("report", "weekly"), ("report", "monthly"),
    ("worker",), ("simulate",), ("replay",), ("topics",), ("topics", "create"), ("topics", "describe"), ("tail",),
    ("schema",), ("schema", "export"), ("config",), ("config", "validate"), ("bench",), ("score",), ("backtest",),
    ("check",), ("store-status",), ("disposal",), ("disposal", "check"), ("disposal", "run"),
}

# Runs in a fresh interpreter: renders `riskwatch --help` and the help of every command the app
# has, then reports which commands it found, which help pages failed and which heavy modules loaded.
HELP_EVERYTHING = textwrap.dedent(
    """
    import json, sys

    import typer
    from typer.testing import CliRunner

    from riskwatch.tools.cli import app

    def walk(command, path, parent):
        ctx = command.context_class(command, info_name=path[-1] if path else "riskwatch", parent=parent)
        yield path
        if hasattr(command, "list_commands"):  # a group
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), (*path, name), ctx)

    paths = list(walk(typer.main.get_command(app), (), None))
    runner = CliRunner()
    failed = [p for p in paths if runner.invoke(app, [*p, "--help"]).exit_code != 0]
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
    print(json.dumps({"paths": [list(p) for p in paths if p], "failed": failed, "heavy": heavy}))
    """
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_every_help_page_renders_without_heavy_libraries() -> None:
    done = _run("-c", HELP_EVERYTHING, *HEAVY)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == []
    assert COMMANDS <= {tuple(p) for p in report["paths"]}, "a command of the README is missing from the CLI"
    assert report["heavy"] == [], f"building the help imported {report['heavy']}: import them inside the command body"


def test_choices_named_in_the_cli_are_those_of_the_store_and_reports() -> None:
    """`--role` and the report commands are spelled out in the CLI so its help needs no models; they must agree."""
    assert [choice.value for choice in db_cli.RoleChoice] == [role.value for role in Role]
    assert list(report_cli.KINDS) == [kind.value for kind in ReportKind]


def test_python_m_entry_points_run_their_commands() -> None:
    riskwatch = _run("-m", "riskwatch.tools", "--help")
    assert riskwatch.returncode == 0 and "backtest" in riskwatch.stdout and "report" in riskwatch.stdout
    score = _run("-m", "riskwatch.tools.score", "--help")
    assert score.returncode == 0 and "--out" in score.stdout and "--detector" in score.stdout
    devservices = _run("-m", "riskwatch.tools.devservices", "--help")
    assert devservices.returncode == 0
    assert all(name in devservices.stdout for name in ("kafka", "postgres", "fetch"))
    bad = _run("-m", "riskwatch.tools.devservices", "no-such-service")
    assert bad.returncode == 2

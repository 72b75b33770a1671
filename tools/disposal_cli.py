"""`riskwatch disposal check|run`: deadline rounds of the disposal queue outside the worker.

Every worker already runs a deadline round every `RISKWATCH_DEADLINE_CHECK_EVERY_S` seconds.
These commands run the same round on their own: `check` once (for cron, or to see what is
overdue now), `run` on a timer as a small service beside the store. Rounds of several
replicas never escalate twice (one round at a time holds the store's advisory lock), so a
service and the workers can run together.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from riskwatch.tools.db_cli import DatabaseUrl, open_store

if TYPE_CHECKING:
    from riskwatch.alerts.disposal.lifecycle import Escalation
    from riskwatch.alerts.store.store import WarningStore

__all__ = ["register"]


def _describe(escalation: Escalation) -> str:
    return (
        f"{escalation.at.isoformat()} {escalation.warning_id}: {escalation.deadline} deadline "
        f"{escalation.due.isoformat()} missed, {escalation.tier_from} → {escalation.tier_to}"
    )


def _round(store: WarningStore) -> int:
    escalations = store.disposals.check_deadlines()
    for escalation in escalations:
        typer.echo(_describe(escalation))
    return len(escalations)


def _check(database_url: DatabaseUrl = None) -> None:
    """Escalate every missed deadline now, print each escalation, and exit."""
    store = open_store(database_url)
    try:
        count = _round(store)
    finally:
        store.close()
    typer.echo(f"{count} escalation(s)", err=True)


def _run(
    database_url: DatabaseUrl = None,
    every: Annotated[float, typer.Option("--every", min=0.1, help="Seconds between rounds")] = 15.0,
) -> None:
    """Run a deadline round every `--every` seconds until stopped (each round is one transaction, so
    stopping at any moment loses nothing)."""
    from riskwatch.alerts.store.errors import describe, is_transient

    store = open_store(database_url)
    try:
        while True:
            try:
                _round(store)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                typer.echo(f"store unavailable, retrying next round: {describe(exc)}", err=True)
            time.sleep(every)
    except KeyboardInterrupt:
        pass
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    """Add the `disposal` command group to `app`."""
    disposal_app = typer.Typer(help="Deadline rounds of the disposal queue (escalation).", no_args_is_help=True)
    disposal_app.command("check")(_check)
    disposal_app.command("run")(_run)
    app.add_typer(disposal_app, name="disposal")

"""`riskwatch demo`: broker, worker, API and simulator in one go (see `demo.py`), with a summary at the end."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from riskwatch.tools.cli_settings import settings as settings_for

__all__ = ["demo", "register"]


def demo(
    scenario: Annotated[str, typer.Option(help="Built-in scenario name or scenario YAML path")] = "water_main_burst",
    duration: Annotated[float, typer.Option(help="Stop after this many seconds at most")] = 180.0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall-clock second")] = 1800.0,
    broker: Annotated[Optional[str], typer.Option(help="Use this Kafka (HOST:PORT) instead of the embedded broker")] = None,  # noqa: UP045 - typer reads the annotation at runtime
    database_url: Annotated[Optional[str], typer.Option(help="Store URL (default sqlite:///riskwatch-demo.db)")] = None,  # noqa: UP045
    api_port: Annotated[int, typer.Option(help="Serve the web view and API on 127.0.0.1 here (a free port if taken; 0 = no API)")] = 8000,
    stay: Annotated[Optional[bool], typer.Option("--stay/--no-stay", help="Keep the web view serving after the scenario until Ctrl-C (default: when run in a terminal)")] = None,  # noqa: UP045
) -> None:
    """The main job on the embedded default: broker, worker and simulator; prints each warning as raised."""
    import asyncio

    from riskwatch.tools.demo import run_demo

    settings = settings_for(
        broker=broker,
        database_url=database_url or ("sqlite:///riskwatch-demo.db" if "RISKWATCH_DATABASE_URL" not in os.environ else None),
    )
    if broker is None:
        settings = settings.model_copy(update={"app_id": "riskwatch-demo"})
    result = asyncio.run(
        run_demo(
            settings, scenario, duration, speed, use_embedded=broker is None, emit=typer.echo, colour=sys.stdout.isatty(),
            api_port=api_port or None, stay=sys.stdin.isatty() and sys.stdout.isatty() if stay is None else stay,
        )
    )
    counts = result.topic_counts
    typer.echo("\n── summary ──")
    typer.echo(f"events in:        {result.simulated.get('sent', 0)}")
    typer.echo(f"events accepted:  {counts.get('riskwatch.events', 0)}")
    typer.echo(f"dead-lettered:    {counts.get('riskwatch.deadletter', 0)}")
    typer.echo(f"signals:          {counts.get('riskwatch.signals', 0)}")
    typer.echo(f"warning messages: {result.messages}")
    levels = result.levels()
    typer.echo("warnings by level: " + (", ".join(f"{k}: {v}" for k, v in levels.items()) or "none"))
    typer.echo(f"cancelled:        {result.cancelled()} (covered by a higher warning, silenced or false alarm)")
    typer.echo(f"stored in {settings.database_url}")
    if not result.latest:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `demo` to the riskwatch CLI."""
    app.command("demo")(demo)

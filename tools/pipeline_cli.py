"""`riskwatch worker` and `riskwatch replay`: the pipeline on Kafka, or over recorded files with no broker;
`riskwatch store-status`: whether a worker's store answers, read from its data dir (the health
table lives in the database that may be the one away)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from riskwatch.tools.cli_settings import settings as settings_for

__all__ = ["register", "replay", "store_status", "worker"]


def worker(
    broker: Annotated[Optional[str], typer.Option(help="Kafka bootstrap (default RISKWATCH_BROKER)")] = None,  # noqa: UP045 - typer reads the annotation at runtime
    database_url: Annotated[Optional[str], typer.Option(help="Store URL (default RISKWATCH_DATABASE_URL)")] = None,  # noqa: UP045
    loglevel: Annotated[str, typer.Option(help="Faust log level")] = "warning",
) -> None:
    """Run the Faust worker: normalize → detect → grade → warnings → store."""
    from riskwatch.streams.worker import run_worker

    settings = settings_for(broker=broker, database_url=database_url)
    sys.argv = [sys.argv[0]]  # Faust's worker reads argv; ours are already parsed
    run_worker(settings, loglevel)


def replay(
    files: Annotated[list[str], typer.Argument(help="Raw JSON-lines files: hotline*.jsonl, police*.jsonl, sensor*.jsonl or SOURCE:PATH")],
    out: Annotated[Optional[Path], typer.Option(help="Write every warning message here as JSON lines")] = None,  # noqa: UP045
    database_url: Annotated[Optional[str], typer.Option(help="Also store warnings here")] = None,  # noqa: UP045
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary")] = False,
) -> None:
    """Run the pipeline over recorded raw files with no broker."""
    from riskwatch.config.loader import ConfigError, load_city_config
    from riskwatch.streams.admin import format_warning
    from riskwatch.streams.replay import replay as run_replay

    settings = settings_for()
    try:
        config = load_city_config(settings.config_dir)
        result = run_replay(config, files)
    except (ConfigError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not quiet:
        for warning in result.warnings:
            typer.echo(format_warning(warning))
    if out:
        with out.open("w", encoding="utf-8") as handle:
            for warning in result.warnings:
                handle.write(warning.model_dump_json() + "\n")
    if database_url:
        from riskwatch.alerts.disposal.plan import plan_disposal
        from riskwatch.alerts.store.store import WarningStore

        store = WarningStore(database_url, routing=config.routing)
        store.migrate()
        for warning in result.warnings:
            store.warnings.save(warning, plan_disposal(warning, config.routing, store.clock.now()))
        store.close()
    typer.echo(json.dumps(result.pipeline.stats.summary(), ensure_ascii=False, indent=2))


def store_status(
    data_dir: Annotated[Optional[Path], typer.Option(help="The worker's data dir (default RISKWATCH_DATA_DIR)")] = None,  # noqa: UP045
) -> None:
    """Print the worker's store availability (JSON); exit 0 available, 1 unavailable, 2 no status written."""
    from riskwatch.streams.store_retry import read_store_status, status_path

    directory = data_dir or settings_for().data_dir
    status = read_store_status(directory)
    if status is None:
        typer.echo(f"no store status in {status_path(directory)}: no worker has run with this data dir", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(status, ensure_ascii=False, indent=2))
    raise typer.Exit(0 if status.get("available") else 1)


def register(app: typer.Typer) -> None:
    """Add `worker`, `replay` and `store-status` to the riskwatch CLI."""
    app.command("worker")(worker)
    app.command("replay")(replay)
    app.command("store-status")(store_status)

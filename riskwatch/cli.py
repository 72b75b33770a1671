"""The `riskwatch` command: demo, worker, replay, simulate, topics, tail, schema, config."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from riskwatch.config.loader import ConfigError, load_city_config, load_model, model_for_file
from riskwatch.settings import Settings

app = typer.Typer(help="Streaming risk early warnings for city and county governance.", no_args_is_help=True)
config_app = typer.Typer(help="Check analyst config files.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _settings(broker: str | None = None, database_url: str | None = None) -> Settings:
    overrides = {k: v for k, v in {"broker": broker, "database_url": database_url}.items() if v}
    return Settings(**overrides)


@config_app.command("validate")
def config_validate(
    files: Annotated[list[Path], typer.Argument(help="YAML files, or a config directory", exists=True)],
) -> None:
    """Validate config files against their schemas; errors name the file, the field and what was expected."""
    failed = False
    for path in files:
        try:
            if path.is_dir():
                load_city_config(path)
            else:
                load_model(path, model_for_file(path))
            typer.echo(f"ok   {path}")
        except ConfigError as exc:
            failed = True
            typer.echo(f"FAIL {exc}", err=True)
    raise typer.Exit(1 if failed else 0)


@app.command()
def worker(
    broker: Annotated[Optional[str], typer.Option(help="Kafka bootstrap (default RISKWATCH_BROKER)")] = None,
    database_url: Annotated[Optional[str], typer.Option(help="Store URL (default RISKWATCH_DATABASE_URL)")] = None,
    loglevel: Annotated[str, typer.Option(help="Faust log level")] = "warning",
) -> None:
    """Run the Faust worker: normalize → detect → grade → warnings → store."""
    from riskwatch.streams.worker import run_worker

    settings = _settings(broker, database_url)
    sys.argv = [sys.argv[0]]  # Faust's worker reads argv; ours are already parsed
    run_worker(settings, loglevel)


@app.command()
def replay(
    files: Annotated[list[str], typer.Argument(help="Raw JSON-lines files: hotline*.jsonl, police*.jsonl, sensor*.jsonl or SOURCE:PATH")],
    out: Annotated[Optional[Path], typer.Option(help="Write every warning message here as JSON lines")] = None,
    database_url: Annotated[Optional[str], typer.Option(help="Also store warnings here")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary")] = False,
) -> None:
    """Run the pipeline over recorded raw files with no broker."""
    from riskwatch.streams.admin import format_warning
    from riskwatch.streams.replay import replay as run_replay

    settings = _settings()
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
        from riskwatch.alerts.store import WarningStore

        store = WarningStore(database_url)
        store.create_schema()
        for warning in result.warnings:
            store.save(warning)
        store.close()
    typer.echo(json.dumps(result.pipeline.stats.summary(), ensure_ascii=False, indent=2))


def _register_tools() -> None:
    from riskwatch.simulator.cli import register as register_simulator
    from riskwatch.streams.admin_cli import register as register_admin

    register_simulator(app)
    register_admin(app)


_register_tools()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""The `riskwatch` command: demo, worker, replay, simulate, topics, tail, schema, config."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from riskwatch.config.loader import ConfigError, check_detectors_file, load_city_config, load_model, model_for_file
from riskwatch.config.models import DetectorsConfig
from riskwatch.config.settings import Settings

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
                model = load_model(path, model_for_file(path))
                if isinstance(model, DetectorsConfig):
                    check_detectors_file(path, model)
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
        from riskwatch.alerts.disposal.plan import plan_disposal
        from riskwatch.alerts.store.store import WarningStore

        store = WarningStore(database_url, routing=config.routing)
        store.migrate()
        for warning in result.warnings:
            store.warnings.save(warning, plan_disposal(warning, config.routing, store.clock.now()))
        store.close()
    typer.echo(json.dumps(result.pipeline.stats.summary(), ensure_ascii=False, indent=2))


@app.command()
def demo(
    scenario: Annotated[str, typer.Option(help="Built-in scenario name or scenario YAML path")] = "water_main_burst",
    duration: Annotated[float, typer.Option(help="Stop after this many seconds at most")] = 180.0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall-clock second")] = 1800.0,
    broker: Annotated[Optional[str], typer.Option(help="Use this Kafka (HOST:PORT) instead of the embedded broker")] = None,
    database_url: Annotated[Optional[str], typer.Option(help="Store URL (default sqlite:///riskwatch-demo.db)")] = None,
    api_port: Annotated[int, typer.Option(help="Serve the web view and API on 127.0.0.1 here (a free port if taken; 0 = no API)")] = 8000,
    stay: Annotated[Optional[bool], typer.Option("--stay/--no-stay", help="Keep the web view serving after the scenario until Ctrl-C (default: when run in a terminal)")] = None,
) -> None:
    """The main job on the embedded default: broker, worker and simulator; prints each warning as raised."""
    import asyncio

    from riskwatch.tools.demo import run_demo

    settings = _settings(broker, database_url or ("sqlite:///riskwatch-demo.db" if "RISKWATCH_DATABASE_URL" not in os.environ else None))
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


def _register_tools() -> None:
    from riskwatch.tools.simulate_cli import register as register_simulator
    from riskwatch.tools.topics_cli import register as register_admin
    from riskwatch.tools.backtest.cli import register as register_backtest
    from riskwatch.tools.score import register as register_score
    from riskwatch.tools.bench import register as register_bench
    from riskwatch.tools.db_cli import register as register_db
    from riskwatch.tools.report_cli import register as register_reports
    from riskwatch.tools.api_cli import register as register_api

    register_simulator(app)
    register_admin(app)
    register_bench(app)
    register_backtest(app)
    register_score(app)
    register_db(app)
    register_reports(app)
    register_api(app)


_register_tools()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""`riskwatch simulate`: send a scenario's raw records to Kafka or write them to files.

The lead CLI registers the command with `register(app)`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from riskwatch.config.loader import CityConfig, ConfigError, load_city_config
from riskwatch.config.settings import Settings
from riskwatch.simulator.generate import Simulation, simulate
from riskwatch.simulator.scenario import Scenario, builtin_scenarios, load_scenario
from riskwatch.simulator.sinks import SimStats, producer_options, publish_to_kafka, write_files

__all__ = ["builtin_scenarios", "load_scenario", "register", "simulate_command"]


def _describe(sim: Simulation) -> list[str]:
    sc = sim.scenario
    lines = [f"scenario {sc.name} (seed {sc.seed}): {sc.start.isoformat()} → {sc.end.isoformat()}"]
    for t in sim.ground_truth:
        lines.append(
            f"  incident {t.id}: {t.kind} in {t.district_name}{t.street_name} ({t.street}) "
            f"{t.start:%m-%d %H:%M}–{t.end:%H:%M}, expected level {t.expected_level} {t.expected_categories}"
        )
    if not sim.ground_truth:
        lines.append("  no incidents")
    return lines


def _finish(stats: SimStats, where: str) -> None:
    typer.echo(f"sent {stats.sent} messages to {where}")
    typer.echo(stats.summary())


def simulate_command(
    scenario: Annotated[
        str, typer.Option("--scenario", "-s", help="Built-in scenario name or path to a scenario YAML")
    ] = "water_main_burst",
    out: Annotated[Path | None, typer.Option("--out", help="Write JSON-lines files into this directory instead of Kafka")] = None,
    broker: Annotated[str | None, typer.Option("--broker", help="Kafka bootstrap HOST:PORT (default: RISKWATCH_BROKER)")] = None,
    speed: Annotated[
        float, typer.Option("--speed", min=0.0, help="Simulated seconds per wall second; 0 = as fast as possible")
    ] = 0.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the scenario's seed")] = None,
    ground_truth: Annotated[Path | None, typer.Option("--ground-truth", help="Also write the ground truth JSON here")] = None,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the built-in scenarios and exit")] = False,
) -> None:
    """Simulate 12345, 110 and sensor records for the sample city, with injected incidents."""
    if list_scenarios:
        for name in builtin_scenarios():
            typer.echo(f"{name}: {load_scenario(name).description}")
        return
    if out is not None and broker is not None:
        raise typer.BadParameter("give either --out (files) or --broker (Kafka), not both")
    settings = Settings()
    try:
        city: CityConfig = load_city_config(settings.config_dir)
        chosen: Scenario = load_scenario(scenario, city)
        if seed is not None:
            chosen = chosen.model_copy(update={"seed": seed})
        sim = simulate(chosen, city)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    for line in _describe(sim):
        typer.echo(line)
    if out is not None:
        stats = write_files(sim, out, ground_truth_path=ground_truth)
        _finish(stats, f"{out}/ (hotline.jsonl, police.jsonl, sensor.jsonl, ground_truth.json)")
        return
    bootstrap = broker or settings.bootstrap_servers
    try:
        stats = asyncio.run(publish_to_kafka(sim, bootstrap, speed, ground_truth_path=ground_truth,
                                             producer_kwargs=producer_options(settings)))
    except Exception as exc:  # noqa: BLE001 - report any broker failure as one line
        typer.echo(f"cannot publish to Kafka at {bootstrap}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from exc
    _finish(stats, f"Kafka at {bootstrap}")
    if ground_truth:
        typer.echo(f"ground truth: {ground_truth}")


def register(app: typer.Typer) -> None:
    """Add the `simulate` command to the riskwatch CLI."""
    app.command("simulate")(simulate_command)

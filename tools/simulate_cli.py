"""`riskwatch simulate`: send a scenario's raw records to Kafka or write them to files.

The riskwatch CLI adds the command with `register(app)`; the simulator loads when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from riskwatch.simulator.generate import Simulation
    from riskwatch.simulator.sinks import SimStats

__all__ = ["register", "simulate_command"]


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
    import asyncio

    from riskwatch.config.loader import ConfigError, load_city_config
    from riskwatch.simulator.generate import simulate
    from riskwatch.simulator.scenario import builtin_scenarios, load_scenario
    from riskwatch.simulator.sinks import producer_options, publish_to_kafka, write_files
    from riskwatch.tools.cli_settings import settings as settings_for

    if list_scenarios:
        for name in builtin_scenarios():
            typer.echo(f"{name}: {load_scenario(name).description}")
        return
    if out is not None and broker is not None:
        raise typer.BadParameter("give either --out (files) or --broker (Kafka), not both")
    settings = settings_for()
    try:
        city = load_city_config(settings.config_dir)
        chosen = load_scenario(scenario, city)
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

"""`riskwatch score`: the command; detectors and scoring load only when it runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["main", "register", "score_command"]


def score_command(
    inputs: Annotated[list[Path], typer.Argument(help="CSV files with columns timestamp,value (--station: timestamp and channels)", metavar="INPUT...")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the scored files (same names as the inputs)")],
    detector: Annotated[Optional[str], typer.Option("--detector", help="Registered series detector (default: default; --station: station detector, default: station)")] = None,  # noqa: UP045 - typer reads the annotation at runtime
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML {detector: NAME, params: {...}}")] = None,  # noqa: UP045
    station: Annotated[
        bool,
        typer.Option(
            "--station",
            help="Inputs are stations: timestamp plus any numeric channels; writes timestamp,anomaly_score,is_anomaly "
            "with a station detector (default: station)",
        ),
    ] = False,
) -> None:
    """Score CSV series with a causal detector: writes DIR/<name> with timestamp,value,anomaly_score."""
    if station:
        _score_stations(inputs, out, detector, config)
        return
    from riskwatch.tools.score.scoring import ScoreError, require_files, resolve_detector, score_files

    try:
        name, params = resolve_detector(config, detector)
        require_files(inputs)
        results = score_files(inputs, out, name, params)
    except ScoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            typer.echo(f"error: {r.error}", err=True)
        elif r.bad_rows:
            typer.echo(f"warning: {r.source}: {r.bad_rows} row(s) without a readable timestamp or value kept the previous score", err=True)
    typer.echo(f"scored {len(results) - failed} file(s) with {name!r} into {out}", err=True)
    if failed:
        raise typer.Exit(1)


def _score_stations(inputs: list[Path], out: Path, detector: str | None, config: Path | None) -> None:
    """`score --station`: every problem with the command line, config or inputs exits 2 before scoring."""
    from riskwatch.tools.score.scoring import ScoreError, require_files
    from riskwatch.tools.score.station import resolve_station_detector, score_station_files

    try:
        name, params = resolve_station_detector(config, detector)
        require_files(inputs)
        results = score_station_files(inputs, out, name, params)
    except ScoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for r in results:
        if r.bad_rows:
            typer.echo(f"warning: {r.source}: {r.bad_rows} row(s) without a readable timestamp kept the previous score", err=True)
    typer.echo(f"scored {len(results)} station file(s) with {name!r} into {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add the `score` command to the `riskwatch` CLI."""
    app.command("score")(score_command)


def main(argv: list[str] | None = None) -> None:
    """Run `score` on its own (``python -m riskwatch.tools.score ...``), without the rest of the CLI."""
    app = typer.Typer(add_completion=False)
    register(app)
    app(argv if argv is not None else sys.argv[1:], prog_name="riskwatch score")

"""`riskwatch score`: the command; detectors and scoring load only when it runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["main", "register", "score_command"]


def score_command(
    inputs: Annotated[list[Path], typer.Argument(help="CSV files with columns timestamp,value", metavar="INPUT...")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the scored files (same names as the inputs)")],
    detector: Annotated[Optional[str], typer.Option("--detector", help="Registered series detector (default: default)")] = None,  # noqa: UP045 - typer reads the annotation at runtime
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML {detector: NAME, params: {...}}")] = None,  # noqa: UP045
) -> None:
    """Score CSV series with a causal detector: writes DIR/<name> with timestamp,value,anomaly_score."""
    from riskwatch.tools.score.scoring import ScoreError, resolve_detector, score_files

    try:
        name, params = resolve_detector(config, detector)
        missing = [str(p) for p in inputs if not p.is_file()]
        if missing:
            raise ScoreError(f"no such input file: {', '.join(missing)}")
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


def register(app: typer.Typer) -> None:
    """Add the `score` command to the `riskwatch` CLI."""
    app.command("score")(score_command)


def main(argv: list[str] | None = None) -> None:
    """Run `score` on its own (``python -m riskwatch.tools.score ...``), without the rest of the CLI."""
    app = typer.Typer(add_completion=False)
    register(app)
    app(argv if argv is not None else sys.argv[1:], prog_name="riskwatch score")

"""`riskwatch backtest`: the command; the pipeline, detectors and plotting load only when it runs."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from riskwatch.config.loader import CityConfig

__all__ = ["backtest_command", "register"]

Paths = Optional[list[Path]]  # noqa: UP007 - typer reads the annotation at runtime


def backtest_command(
    scenario: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045 - typer reads the annotation at runtime
        "--scenario", "-s", help="Built-in scenario name or scenario YAML; repeatable")] = None,
    recorded: Annotated[Paths, typer.Option(
        "--recorded", exists=True, file_okay=False,
        help="Directory with hotline/police/sensor .jsonl and ground_truth.json; repeatable")] = None,
    csv_files: Annotated[Paths, typer.Option(
        "--csv", exists=True, dir_okay=False, help="Labelled CSV with columns timestamp,value,label; repeatable")] = None,
    detector: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--detector", "-d", help="Series detector for --csv (default: the registry's default)")] = None,
    threshold: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--threshold", "-t", min=0.0, max=1.0, help="Alarm score for --csv (default: series_anomaly's threshold)")] = None,
    config_dir: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--config-dir", exists=True, file_okay=False,
        help="Config directory (default: RISKWATCH_CONFIG_DIR or the shipped sample city)")] = None,
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        "--out", help="Write the simulated files and report.html into this directory")] = None,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0.0, help="Minutes after an incident's end that a warning or signal still matches it")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON")] = False,
    progress: Annotated[Optional[bool], typer.Option(  # noqa: UP045
        "--progress/--no-progress", help="Progress bar on stderr (default: only when stderr is a terminal)")] = None,
) -> None:
    """Back-test on labelled data: scenarios (simulated or recorded) through the whole pipeline,
    or labelled CSVs through a series detector."""
    from riskwatch.config.loader import ConfigError

    if csv_files and (scenario or recorded):
        raise typer.BadParameter("give either --csv files or --scenario/--recorded, not both")
    if not (csv_files or scenario or recorded):
        raise typer.BadParameter("give --scenario NAME|PATH, --recorded DIR or --csv FILE")
    try:
        if csv_files:
            _csv_mode(csv_files, detector, threshold, out, as_json)
        else:
            _scenario_mode(scenario or [], recorded or [], config_dir, out, timedelta(minutes=tolerance), as_json,
                           progress)
    except (ConfigError, KeyError) as exc:
        typer.echo(str(exc).strip("'\""), err=True)
        raise typer.Exit(2) from exc


def register(app: typer.Typer) -> None:
    """Add `backtest` to the `riskwatch` command."""
    app.command("backtest")(backtest_command)


def _config(config_dir: Path | None) -> CityConfig:
    from riskwatch.config.loader import load_city_config

    if config_dir is None:
        from riskwatch.config.settings import Settings

        config_dir = Settings().config_dir
    return load_city_config(config_dir)


def _scenario_mode(scenarios: list[str], recorded: list[Path], config_dir: Path | None, out: Path | None,
                   tolerance: timedelta, as_json: bool, progress: bool | None) -> None:
    from riskwatch.tools.backtest.report import scenario_report_html, write_report
    from riskwatch.tools.backtest.runner import run_recorded, run_scenario
    from riskwatch.tools.backtest.scoring import overall, score_run
    from riskwatch.tools.backtest.tables import SCORE_HEADERS, format_table, json_ready, score_rows
    from riskwatch.tools.backtest.truth import HEALTH, PIPELINE

    config = _config(config_dir)
    reports = []
    for name in scenarios:
        run = run_scenario(name, config, out, progress=progress)
        reports.append(score_run(run, config, tolerance))
    for directory in recorded:
        reports.append(score_run(run_recorded(directory, config, progress=progress), config, tolerance))
    total = overall(reports)
    if as_json:
        typer.echo(json.dumps({"tolerance_s": tolerance.total_seconds(), "scenarios": [r.as_dict() for r in reports],
                               "overall": json_ready(total)}, ensure_ascii=False, indent=2))
    else:
        for rep in reports:
            run = rep.run
            typer.echo(f"{run.name}: {run.events:,} events in {run.seconds:.1f} s ({run.events_per_s:,.0f}/s), "
                       f"{len(run.incidents)} incidents, {run.days:.2f} days")
            scores = {n: e.score for n, e in rep.detectors.items()}
            typer.echo(format_table(SCORE_HEADERS, score_rows(rep.pipeline.score, scores, rep.health.score)))
            typer.echo("")
        if len(reports) > 1:
            typer.echo(f"overall: {total['events']:,} events, {total['events_per_s']:,.0f}/s")
            typer.echo(format_table(SCORE_HEADERS, score_rows(total[PIPELINE], total["detectors"], total[HEALTH])))
    if out is not None:
        path = write_report(out, scenario_report_html(reports, config, tolerance))
        typer.echo(f"report: {path}", err=as_json)


def _csv_mode(files: list[Path], detector: str | None, threshold: float | None, out: Path | None, as_json: bool) -> None:
    from riskwatch.detectors.series.registry import DEFAULT_SERIES_DETECTOR
    from riskwatch.tools.backtest.report import csv_report_html, write_report
    from riskwatch.tools.backtest.scoring import SeriesScore, rounded, run_csv
    from riskwatch.tools.backtest.tables import CSV_HEADERS, csv_row, format_table

    name = detector or DEFAULT_SERIES_DETECTOR
    results = [run_csv(path, name, threshold) for path in files]
    total = sum((r.score for r in results), SeriesScore())
    if as_json:
        typer.echo(json.dumps({
            "detector": name, "threshold": results[0].threshold,
            "files": [{"file": str(r.series.name), "points": len(r.series.values), "seconds": rounded(r.seconds, 3),
                       **r.score.as_dict()} for r in results],
            "overall": total.as_dict(),
        }, ensure_ascii=False, indent=2))
    else:
        rows = [csv_row(r.series.name, len(r.series.values), r.score) for r in results]
        rows.append(csv_row("all", sum(len(r.series.values) for r in results), total))
        typer.echo(f"detector {name}, threshold {results[0].threshold:g}")
        typer.echo(format_table(CSV_HEADERS, rows))
    if out is not None:
        path = write_report(out, csv_report_html(results, name))
        typer.echo(f"report: {path}", err=as_json)

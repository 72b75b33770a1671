"""The back-test's HTML report: one self-contained page (plots inline), rendered from
`templates/backtest.html.j2` by the Jinja2 environment the warning reports use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from riskwatch.alerts.reports.render import environment
from riskwatch.config.loader import CityConfig
from riskwatch.tools.backtest.plots import plot_csv, plot_incident
from riskwatch.tools.backtest.scoring import CsvResult, ScenarioReport, SeriesScore, delay, overall
from riskwatch.tools.backtest.tables import (
    CSV_HEADERS,
    FALSE_HEADERS,
    INCIDENT_HEADERS,
    MAX_FALSE_ROWS,
    SCORE_HEADERS,
    csv_row,
    fmt_delay,
    score_rows,
)
from riskwatch.tools.backtest.truth import HEALTH, PIPELINE

__all__ = ["csv_report_html", "scenario_report_html", "write_report"]

TEMPLATE = "backtest.html.j2"


def _render(**context: Any) -> str:
    env = environment("riskwatch.tools.backtest")
    env.filters["delay"] = fmt_delay
    env.filters["pyformat"] = format  # Python format specs: "," for thousands, ".1f", "%Y-%m-%d %H:%M" for dates
    return env.get_template(TEMPLATE).render(**context)


def _scenario(rep: ScenarioReport) -> dict[str, Any]:
    """One scenario's section: its score, incident and false-warning tables, and a plot per incident."""
    run = rep.run
    incident_rows = []
    for inc in run.incidents:
        warn = rep.pipeline.first.get(inc.id)
        found = [f"{n} {fmt_delay(delay(e, inc))}" for n, e in sorted(rep.detectors.items()) if inc.id in e.first]
        incident_rows.append([inc.id, inc.kind, inc.street, f"{inc.start:%m-%d %H:%M}", inc.expected_level or "health",
                              "–" if warn is None else f"{warn.level} after {fmt_delay(delay(rep.pipeline, inc))}",
                              "; ".join(found) or "–"])
    false = sorted(rep.pipeline.false, key=lambda d: d.at)
    return {
        "run": run,
        "warnings": len({w.warning_id for w in run.warnings}),
        "score_rows": score_rows(rep.pipeline.score, {n: e.score for n, e in rep.detectors.items()}, rep.health.score),
        "incident_rows": incident_rows,
        "false_rows": [[d.ref[:16], d.region, d.group, f"{d.at:%m-%d %H:%M}", d.level] for d in false[:MAX_FALSE_ROWS]],
        "false_total": len(false),
        "plots": [(inc.id, plot_incident(run, rep, inc)) for inc in run.incidents],
    }


def scenario_report_html(reports: Sequence[ScenarioReport], config: CityConfig, tolerance: timedelta) -> str:
    """The scenarios report: overall scores, then per scenario its tables and incident plots."""
    total = overall(reports)
    return _render(
        mode="scenarios", title="riskwatch backtest: scenarios", config_name=config.directory.name,
        tolerance_s=tolerance.total_seconds(), total=total,
        overall_rows=score_rows(total[PIPELINE], total["detectors"], total[HEALTH]),
        score_headers=SCORE_HEADERS, incident_headers=INCIDENT_HEADERS, false_headers=FALSE_HEADERS,
        scenarios=[_scenario(rep) for rep in reports],
    )


def csv_report_html(results: Sequence[CsvResult], detector: str) -> str:
    """The labelled-series report: one table over every file, then each series plotted."""
    total = sum((r.score for r in results), SeriesScore())
    rows = [csv_row(r.series.name, len(r.series.values), r.score) for r in results]
    rows.append(csv_row("all", sum(len(r.series.values) for r in results), total))
    return _render(
        mode="series", title="riskwatch backtest: labelled series", detector=detector, results=results,
        csv_headers=CSV_HEADERS, rows=rows, plots=[plot_csv(r) for r in results],
    )


def write_report(out_dir: Path, page: str) -> Path:
    """Write `page` to `out_dir/report.html` (the directory created) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path

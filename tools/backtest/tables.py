"""The back-test's tables, as rows of text cells: printed in the terminal and shown in the HTML report."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from riskwatch.tools.backtest.scoring import Score, SeriesScore
from riskwatch.tools.backtest.truth import PIPELINE

__all__ = [
    "CSV_HEADERS", "FALSE_HEADERS", "INCIDENT_HEADERS", "MAX_FALSE_ROWS", "SCORE_HEADERS", "csv_row", "fmt",
    "fmt_delay", "format_table", "json_ready", "score_rows",
]

SCORE_HEADERS = ["", "detected", "rate", "median delay", "p90 delay", "false", "false / district / day"]
INCIDENT_HEADERS = ["incident", "kind", "street", "start", "expected", "warning", "signals (first, after start)"]
FALSE_HEADERS = ["warning", "region", "group", "first published", "level"]
CSV_HEADERS = ["file", "points", "windows", "detected", "false alarms", "precision", "recall", "F1", "median delay",
               "false / day"]
#: The report lists at most this many false warnings per scenario.
MAX_FALSE_ROWS = 100


def fmt(value: Any, unit: str = "") -> str:
    """A number for a table cell: floats to three significant digits, none as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}{unit}"
    return f"{value}{unit}"


def fmt_delay(seconds: float | None) -> str:
    """A delay in minutes, or in hours from 90 minutes on; none as a dash."""
    if seconds is None:
        return "–"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def score_rows(pipeline: Score, detectors: dict[str, Score], health: Score,
               speeds: dict[str, float] | None = None) -> list[list[str]]:
    """Table rows: pipeline, each detector, health signals (and events/s when `speeds` is given)."""
    rows = []
    for name, sc in [(PIPELINE + " (warnings)", pipeline), *sorted(detectors.items()), ("health signals (all)", health)]:
        row = [name, f"{sc.detected}/{sc.incidents}", fmt(sc.detection_rate), fmt_delay(sc.median_delay),
               fmt_delay(sc.p90_delay), str(sc.false), fmt(sc.false_per_district_day)]
        if speeds is not None:
            speed = speeds.get(name.split(" ")[0])
            row.append(f"{speed:,.0f}" if speed else "–")
        rows.append(row)
    return rows


def csv_row(name: str, points: int, sc: SeriesScore) -> list[str]:
    """One row of the labelled-series table (`CSV_HEADERS`)."""
    d = sc.as_dict()
    return [name, str(points), str(sc.windows), str(sc.detected), str(sc.false_alarms), fmt(d["precision"]),
            fmt(d["recall"]), fmt(d["f1"]), fmt_delay(statistics.median(sc.delays) if sc.delays else None),
            fmt(d["false_per_day"])]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the first left-aligned, the rest right-aligned."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    lines = []
    for row in [list(headers), *rows]:
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def json_ready(value: Any) -> Any:
    """`value` with every score replaced by its `as_dict()`, for `json.dumps`."""
    if isinstance(value, (Score, SeriesScore)):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    return value

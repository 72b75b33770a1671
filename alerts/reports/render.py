"""Render a `Report` as one self-contained HTML file (Jinja2 template, charts inline as base64).

`environment` is the one Jinja2 set-up of riskwatch's HTML reports: other reports (the
back-test's) pass their own template package and extend `base.html.j2` and use
`macros.html.j2` from here.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from riskwatch.alerts.reports.figures import LEVEL_HEX, category_trend_png, cjk_font, level_trend_png
from riskwatch.alerts.reports.period import CITY_TZ, ReportKind
from riskwatch.alerts.reports.report import Report, format_duration, format_rate

__all__ = ["environment", "render_html", "write_html"]

_BUCKET = {
    ReportKind.daily: ("小时", "hour of day"),
    ReportKind.weekly: ("日期", "day"),
    ReportKind.monthly: ("日期", "day"),
}


def environment(*packages: str) -> Environment:
    """The Jinja2 environment of the HTML reports: escaping, strict undefined names, filters.

    Templates are looked up in the `templates/` folder of each of `packages` first, then in this
    package's (the report's own, `base.html.j2` and `macros.html.j2`).
    """
    loaders = [PackageLoader(package, "templates") for package in (*packages, "riskwatch.alerts.reports")]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = format_duration
    env.filters["rate"] = format_rate
    env.filters["local"] = lambda at: at.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")
    return env


def render_html(report: Report) -> str:
    """The report as a complete HTML document with no external references."""
    bucket_zh, bucket_en = _BUCKET[report.kind]
    charts = {
        "levels": level_trend_png(report.trend, bucket_zh, bucket_en),
        "categories": category_trend_png(report.trend, bucket_zh, bucket_en),
    }
    template = environment().get_template("report.html.j2")
    return template.render(
        report=report,
        period=report.period,
        now=report.current,
        before=report.previous,
        charts=charts,
        level_hex={level.value: colour for level, colour in LEVEL_HEX.items()},
        ascii_charts=cjk_font() is None,
    )


def write_html(report: Report, out: Path) -> Path:
    """Write the rendered report to `out` (parents created) and return its resolved path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report), encoding="utf-8")
    return out.resolve()

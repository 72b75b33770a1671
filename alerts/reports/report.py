"""A whole report: the period's numbers, the previous period's for comparison, trends, detectors."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import AwareDatetime, BaseModel, ConfigDict

from riskwatch.alerts.reports.directory import Directory
from riskwatch.alerts.reports.metrics import PeriodSummary, Trend, summarise, trend
from riskwatch.alerts.reports.period import Period, ReportKind
from riskwatch.alerts.reports.records import PrecisionRow, ReportData

__all__ = ["ComparisonRow", "Report", "build_report", "format_duration", "format_rate"]


class ComparisonRow(BaseModel):
    """One headline metric of this period beside the previous one."""

    model_config = ConfigDict(frozen=True)

    metric: str
    current: str
    previous: str
    change: str


class Report(BaseModel):
    """Everything the HTML template shows."""

    model_config = ConfigDict(frozen=True)

    kind: ReportKind
    generated_at: AwareDatetime
    current: PeriodSummary
    previous: PeriodSummary | None
    trend: Trend
    precision: tuple[PrecisionRow, ...]
    comparisons: tuple[ComparisonRow, ...]

    @property
    def period(self) -> Period:
        return self.current.period


def format_duration(seconds: float | None) -> str:
    """`1小时05分` style, `—` when there is nothing to average."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}分钟"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}小时{rest:02d}分"
    days, hours = divmod(hours, 24)
    return f"{days}天{hours}小时"


def format_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def _change(current: float | None, previous: float | None, fmt: Callable[[float], str]) -> str:
    if current is None or previous is None:
        return "—"
    delta = current - previous
    if delta == 0:
        return "持平"
    arrow = "↑" if delta > 0 else "↓"
    return f"{arrow} {fmt(abs(delta))}"


def _comparisons(current: PeriodSummary, previous: PeriodSummary) -> tuple[ComparisonRow, ...]:
    def count(n: float) -> str:
        return str(int(n))

    def duration(s: float) -> str:
        return format_duration(s)

    def points(r: float) -> str:
        return f"{r * 100:.1f} 个百分点"

    rows: list[tuple[str, float | None, float | None, Callable[[float], str], Callable[[float | None], str]]] = [
        ("预警总数 warnings", current.raised, previous.raised, count, lambda v: str(v)),
    ]
    for now_row, before_row in zip(current.by_level, previous.by_level, strict=True):
        rows.append((f"{now_row.name} level {now_row.key}", now_row.count, before_row.count, count, lambda v: str(v)))
    rows += [
        ("平均响应时长 MTTA", current.mtta_seconds, previous.mtta_seconds, duration, format_duration),
        ("平均处置时长 MTTR", current.mttr_seconds, previous.mttr_seconds, duration, format_duration),
        ("超时升级 deadline breaches", current.breach_total, previous.breach_total, count, lambda v: str(v)),
        ("误报率 false-alarm rate", current.false_alarm_rate, previous.false_alarm_rate, points, format_rate),
    ]
    return tuple(
        ComparisonRow(metric=name, current=show(now), previous=show(before), change=_change(now, before, fmt))
        for name, now, before, fmt, show in rows
    )


def build_report(
    period: Period,
    data: ReportData,
    directory: Directory,
    generated_at: AwareDatetime,
) -> Report:
    """Summarise `period` (and, for weekly and monthly reports, the period before it)."""
    kind = period.kind
    current = summarise(period, data, directory)
    compare = kind is not ReportKind.daily
    previous = summarise(period.previous(), data, directory) if compare else None
    return Report(
        kind=kind,
        generated_at=generated_at,
        current=current,
        previous=previous,
        trend=trend(period, data, period.previous() if compare else None),
        precision=data.precision,
        comparisons=_comparisons(current, previous) if previous else (),
    )

"""The numbers of a report, computed from `ReportData` for one period.

Definitions (shown on the report too):
- counts by level, category and region: warnings raised (entered the queue) in the period;
- time to acknowledge / resolve: for each warning acknowledged (resolved) in the period,
  the time from being raised to its acknowledgement (its last resolution in the period),
  averaged per level; a warning counts at its current level;
- deadline breaches: escalations recorded in the period, per responsible department;
- false-alarm rate: among warnings whose outcome was judged in the period (their last move in
  the period into resolved/closed = true alarm, into false_alarm = false alarm), the share of
  false alarms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from riskwatch.alerts.reports.directory import Directory
from riskwatch.alerts.reports.period import Period
from riskwatch.alerts.reports.records import ReportData, TransitionFact, WarningFact
from riskwatch.contracts import Level, WarningStatus

__all__ = ["BreachRow", "CountRow", "LevelTimes", "PeriodSummary", "Trend", "summarise", "trend"]

TOP_STREETS = 10
TREND_CATEGORIES = 5
_TRUE_OUTCOMES = frozenset({WarningStatus.resolved, WarningStatus.closed})
_OUTCOMES = _TRUE_OUTCOMES | {WarningStatus.false_alarm}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class CountRow(_Out):
    """How many warnings one key (a level, category, district, street) had."""

    key: str
    name: str
    count: int


class LevelTimes(_Out):
    """Mean response time of one level (or `all`) and how many warnings it averages."""

    level: str
    count: int
    mean_seconds: float | None


class BreachRow(_Out):
    """Missed deadlines of one department in the period."""

    department: str
    name: str
    acknowledge: int
    resolve: int
    warnings: int

    @property
    def total(self) -> int:
        return self.acknowledge + self.resolve


class PeriodSummary(_Out):
    """Every headline number of one period."""

    period: Period
    raised: int
    by_level: tuple[CountRow, ...]
    by_category: tuple[CountRow, ...]
    by_district: tuple[CountRow, ...]
    top_streets: tuple[CountRow, ...]
    acknowledge: tuple[LevelTimes, ...]
    resolve: tuple[LevelTimes, ...]
    breaches: tuple[BreachRow, ...]
    breach_total: int
    true_alarms: int
    false_alarms: int

    @property
    def false_alarm_rate(self) -> float | None:
        judged = self.true_alarms + self.false_alarms
        return self.false_alarms / judged if judged else None

    @property
    def mtta_seconds(self) -> float | None:
        return self.acknowledge[-1].mean_seconds

    @property
    def mttr_seconds(self) -> float | None:
        return self.resolve[-1].mean_seconds


class Trend(_Out):
    """Warnings raised per bucket: by level, by the period's top categories, and the previous period's totals."""

    labels: tuple[str, ...]
    by_level: dict[Level, tuple[int, ...]]
    by_category: dict[str, tuple[int, ...]]
    category_names: dict[str, str]
    previous_total: tuple[int, ...] | None


def _counted(keys: Iterable[tuple[str, str]]) -> tuple[CountRow, ...]:
    counts = Counter(keys)
    rows = [CountRow(key=key, name=name, count=n) for (key, name), n in counts.items()]
    return tuple(sorted(rows, key=lambda r: (-r.count, r.key)))


def _in_period(period: Period, transitions: Iterable[TransitionFact]) -> list[TransitionFact]:
    return sorted((t for t in transitions if period.contains(t.at)), key=lambda t: (t.at, t.warning_id))


def _response_times(
    moves: dict[str, TransitionFact], warnings: dict[str, WarningFact]
) -> tuple[LevelTimes, ...]:
    """Mean seconds from being raised to `moves[warning]` per level, then over all levels."""
    per_level: dict[Level, list[float]] = {level: [] for level in Level}
    for warning_id, move in moves.items():
        warning = warnings.get(warning_id)
        if warning is None:
            continue
        per_level[warning.level].append((move.at - warning.raised_at).total_seconds())
    rows = [LevelTimes(level=lv.value, count=len(v), mean_seconds=fmean(v) if v else None) for lv, v in per_level.items()]
    every = [s for v in per_level.values() for s in v]
    rows.append(LevelTimes(level="all", count=len(every), mean_seconds=fmean(every) if every else None))
    return tuple(rows)


def _breaches(period: Period, data: ReportData, directory: Directory) -> tuple[BreachRow, ...]:
    kinds: dict[str | None, Counter[str]] = {}
    escalated: dict[str | None, set[str]] = {}
    for escalation in data.escalations:
        if not period.contains(escalation.at):
            continue
        warning = data.warnings.get(escalation.warning_id)
        department = warning.department if warning else None
        kinds.setdefault(department, Counter())[escalation.deadline] += 1
        escalated.setdefault(department, set()).add(escalation.warning_id)
    rows = [
        BreachRow(
            department=department or "",
            name=directory.department(department),
            acknowledge=counter["acknowledge"],
            resolve=counter["resolve"],
            warnings=len(escalated[department]),
        )
        for department, counter in kinds.items()
    ]
    return tuple(sorted(rows, key=lambda r: (-r.total, r.department)))


def summarise(period: Period, data: ReportData, directory: Directory) -> PeriodSummary:
    """The headline numbers of `period`; `data` must cover it."""
    if data.start > period.start_utc or data.end < period.end_utc:
        raise ValueError(
            f"report data covers {data.start.isoformat()}–{data.end.isoformat()}, "
            f"not the whole period {period.label_zh} ({period.start_utc.isoformat()}–{period.end_utc.isoformat()})"
        )
    raised = [w for w in data.warnings.values() if period.contains(w.raised_at)]
    by_level = Counter(w.level for w in raised)
    moves = _in_period(period, data.transitions)
    acknowledged: dict[str, TransitionFact] = {}
    resolved: dict[str, TransitionFact] = {}
    outcome: dict[str, TransitionFact] = {}
    for move in moves:
        if move.to_status is WarningStatus.acknowledged:
            acknowledged.setdefault(move.warning_id, move)
        if move.to_status is WarningStatus.resolved:
            resolved[move.warning_id] = move
        if move.to_status in _OUTCOMES:
            outcome[move.warning_id] = move
    breaches = _breaches(period, data, directory)
    false_alarms = sum(1 for m in outcome.values() if m.to_status is WarningStatus.false_alarm)
    return PeriodSummary(
        period=period,
        raised=len(raised),
        by_level=tuple(CountRow(key=lv.value, name=f"{lv.value}级 {lv.colour_zh}", count=by_level[lv]) for lv in Level),
        by_category=_counted((w.category, w.category_name) for w in raised),
        by_district=_counted((w.district_code, directory.region(w.district_code)) for w in raised),
        top_streets=_counted((s, directory.region(s)) for w in raised if (s := w.street_code))[:TOP_STREETS],
        acknowledge=_response_times(acknowledged, data.warnings),
        resolve=_response_times(resolved, data.warnings),
        breaches=breaches,
        breach_total=sum(r.total for r in breaches),
        true_alarms=len(outcome) - false_alarms,
        false_alarms=false_alarms,
    )


def _per_bucket(period: Period, warnings: list[WarningFact]) -> tuple[int, ...]:
    return tuple(sum(1 for w in warnings if b.start <= w.raised_at < b.end) for b in period.buckets())


def trend(period: Period, data: ReportData, previous: Period | None = None) -> Trend:
    """Per-bucket counts of warnings raised in `period` (and in `previous`, if given)."""
    warnings = list(data.warnings.values())
    raised = [w for w in warnings if period.contains(w.raised_at)]
    names = {w.category: w.category_name for w in raised}
    top = [code for code, _n in Counter(w.category for w in raised).most_common(TREND_CATEGORIES)]
    return Trend(
        labels=tuple(b.label for b in period.buckets()),
        by_level={lv: _per_bucket(period, [w for w in raised if w.level is lv]) for lv in Level},
        by_category={code: _per_bucket(period, [w for w in raised if w.category == code]) for code in top},
        category_names={code: names[code] for code in top},
        previous_total=_per_bucket(previous, [w for w in warnings if previous.contains(w.raised_at)]) if previous else None,
    )

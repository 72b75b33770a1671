"""A known fortnight of warnings for the report tests, and the numbers it implies.

`apply(store, clock)` replays the scenario into a migrated store in time order (saves,
lifecycle moves with feedback, deadline checks) on a `ManualClock`. `expected(start, end)`
works the report's numbers out from the scenario itself, by a plain reading of the
definitions — not by calling the report code — so the tests compare two derivations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.store.store import WarningStore
from riskwatch.contracts import Level, MsgType, SignalKind, SignalSummary, Source, Warning, WarningStatus
from riskwatch.contracts.feedback import Feedback
from tests.store_contract import save

SH = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


@dataclass(frozen=True)
class Spec:
    """One warning: where, what, who handles it, when it was raised and every move after."""

    warning_id: str
    level: Level
    category: str
    category_name: str
    region_code: str
    department: str
    detector: str
    raised: datetime
    moves: tuple[tuple[WarningStatus, datetime], ...] = field(default=())


S = WarningStatus
SPECS: tuple[Spec, ...] = (
    # previous week (ISO week 47: 16–22 Nov)
    Spec("P1", Level.II, "water_supply", "供水", "410105002001001", "water_group", "burst.water",
         local(18, 10), ((S.acknowledged, local(18, 10, 30)), (S.resolved, local(18, 12)))),
    Spec("P2", Level.III, "fire", "火灾", "410103001001001", "fire_rescue", "rule.smoke",
         local(19, 10), ((S.false_alarm, local(19, 11)),)),
    Spec("E", Level.III, "water_supply", "供水", "410105002001002", "water_group", "burst.water",
         local(22, 23), ((S.acknowledged, local(23, 0, 10)), (S.resolved, local(23, 9)))),
    # this week (ISO week 48: 23–29 Nov); H is raised 00:30 local, still 22 Nov in UTC
    Spec("H", Level.IV, "water_supply", "供水", "410105002001001", "water_group", "surge.water",
         local(23, 0, 30)),
    Spec("A", Level.I, "water_supply", "供水", "410105002001001", "water_group", "burst.water",
         local(24, 9), ((S.acknowledged, local(24, 9, 20)), (S.resolved, local(24, 10, 30)), (S.closed, local(24, 11)))),
    Spec("B", Level.II, "gas_supply", "燃气", "410102001001001", "gas_company", "burst.water",
         local(25, 14), ((S.acknowledged, local(25, 14, 10)), (S.false_alarm, local(25, 15)))),
    Spec("C", Level.III, "water_supply", "供水", "410105002001002", "water_group", "surge.water",
         local(26, 8), ((S.dispatched, local(26, 8, 5)), (S.acknowledged, local(26, 8, 25)),
                        (S.in_progress, local(26, 9)), (S.resolved, local(26, 12)))),
    Spec("D", Level.IV, "fire", "火灾", "410103001", "fire_rescue", "rule.smoke", local(28, 20)),
    # next week, still November
    Spec("F", Level.III, "gas_supply", "燃气", "410102001001002", "gas_company", "rule.gas", local(30, 1)),
)
DEADLINE_CHECKS: tuple[datetime, ...] = (local(18, 10, 20), local(22, 23, 31), local(24, 9, 6), local(28, 22, 1))
OUTCOMES = {S.resolved: True, S.closed: True, S.false_alarm: False}


def make_warning(spec: Spec) -> Warning:
    signal = SignalSummary(
        signal_id=f"sig-{spec.warning_id}",
        detector=spec.detector,
        kind=SignalKind.burst,
        source=Source.hotline,
        region_code=spec.region_code,
        at=spec.raised,
        score=0.8,
        observed=12.0,
        expected=3.0,
        reason="test scenario",
    )
    return Warning(
        warning_id=spec.warning_id,
        version=1,
        msg_type=MsgType.alert,
        level=spec.level,
        region_code=spec.region_code,
        region_name=f"region {spec.region_code}",
        district_code=spec.region_code[:6],
        category=spec.category,
        category_name=spec.category_name,
        title=f"{spec.category_name} {spec.warning_id}",
        department=spec.department,
        first_seen=spec.raised,
        updated_at=spec.raised,
        score=0.8,
        sources=(Source.hotline,),
        explanation=("test scenario",),
        signals=(signal,),
    )


def apply(store: WarningStore, clock: ManualClock) -> None:
    """Replay saves, moves (each also recorded as feedback) and deadline checks in time order."""
    steps: list[tuple[datetime, int, Any]] = []
    for spec in SPECS:
        steps.append((spec.raised, 0, ("save", spec)))
        steps += [(at, 1, ("move", spec, target)) for target, at in spec.moves]
    steps += [(at, 2, ("check", None)) for at in DEADLINE_CHECKS]
    for at, _order, step in sorted(steps, key=lambda s: (s[0], s[1])):
        clock.set(at)
        if step[0] == "save":
            save(store, make_warning(step[1]))
        elif step[0] == "move":
            _kind, spec, target = step
            transition = store.transitions.apply(spec.warning_id, target, actor="张调度", role="commander", reason="scenario", at=at)
            store.outcomes.record(Feedback.of(transition, target.value))
        else:
            store.disposals.check_deadlines(at)


def _mean_minutes(values: list[timedelta]) -> float | None:
    return fmean(v.total_seconds() for v in values) / 60 if values else None


def expected(start: datetime, end: datetime) -> dict[str, Any]:
    """The report's numbers for [start, end), read straight off the scenario."""

    def inside(at: datetime) -> bool:
        return start <= at < end

    raised = [s for s in SPECS if inside(s.raised)]
    acks = [at - s.raised for s in SPECS for target, at in s.moves if target is S.acknowledged and inside(at)]
    resolves = []
    judged: dict[str, bool] = {}
    for spec in SPECS:
        in_period = [(t, at) for t, at in spec.moves if inside(at)]
        resolved = [at for t, at in in_period if t is S.resolved]
        if resolved:
            resolves.append(resolved[-1] - spec.raised)
        outcomes = [t for t, _at in in_period if t in OUTCOMES]
        if outcomes:
            judged[spec.warning_id] = OUTCOMES[outcomes[-1]]
    false_alarms = sum(1 for v in judged.values() if not v)
    by_level = {lv.value: sum(1 for s in raised if s.level is lv) for lv in Level}
    by_category: dict[str, int] = {}
    by_district: dict[str, int] = {}
    by_street: dict[str, int] = {}
    for s in raised:
        by_category[s.category] = by_category.get(s.category, 0) + 1
        by_district[s.region_code[:6]] = by_district.get(s.region_code[:6], 0) + 1
        by_street[s.region_code[:9]] = by_street.get(s.region_code[:9], 0) + 1
    return {
        "raised": len(raised),
        "by_level": by_level,
        "by_category": by_category,
        "by_district": by_district,
        "by_street": by_street,
        "mtta_minutes": _mean_minutes(acks),
        "mttr_minutes": _mean_minutes(resolves),
        "ack_count": len(acks),
        "resolve_count": len(resolves),
        "true_alarms": len(judged) - false_alarms,
        "false_alarms": false_alarms,
        "false_alarm_rate": false_alarms / len(judged) if judged else None,
    }


def expected_precision() -> dict[str, float]:
    """Each detector's precision over the final outcome of every judged warning (all time)."""
    tally: dict[str, list[bool]] = {}
    for spec in SPECS:
        outcomes = [OUTCOMES[t] for t, _at in spec.moves if t in OUTCOMES]
        if outcomes:
            tally.setdefault(spec.detector, []).append(outcomes[-1])
    return {detector: sum(v) / len(v) for detector, v in tally.items()}


DEPARTMENT_OF = {s.warning_id: s.department for s in SPECS}


def _value(page: Any, xpath: str) -> str:
    found = page.xpath(xpath)
    assert len(found) == 1, f"expected one match for {xpath}, found {len(found)}"
    return str(found[0])


def _minutes(text: str) -> float | None:
    return float(text) / 60 if text else None


def assert_report_matches(html_text: str, store: WarningStore, start: datetime, end: datetime) -> None:
    """The rendered report shows exactly the numbers the scenario implies for [start, end)."""
    import lxml.html
    import pytest

    page = lxml.html.fromstring(html_text)
    want = expected(start, end)
    assert int(_value(page, '//*[@data-metric="raised"]/@data-value')) == want["raised"]
    for level, count in want["by_level"].items():
        assert int(_value(page, f'//table[@id="by-level"]//tr[@data-key="{level}"]/td[2]/@data-value')) == count
    for table, counts in (("by-category", want["by_category"]), ("by-district", want["by_district"]), ("top-streets", want["by_street"])):
        shown = {tr.get("data-key"): int(tr.xpath("td[2]/@data-value")[0]) for tr in page.xpath(f'//table[@id="{table}"]//tr[@data-key]')}
        assert shown == counts, table
    mtta = _minutes(_value(page, '//*[@data-metric="mtta"]/@data-value'))
    mttr = _minutes(_value(page, '//*[@data-metric="mttr"]/@data-value'))
    assert mtta == (pytest.approx(want["mtta_minutes"]) if want["mtta_minutes"] is not None else None)
    assert mttr == (pytest.approx(want["mttr_minutes"]) if want["mttr_minutes"] is not None else None)
    assert int(_value(page, '//table[@id="response-times"]//tr[@data-key="all"]/td[@data-field="ack_count"]/@data-value')) == want["ack_count"]
    assert int(_value(page, '//table[@id="response-times"]//tr[@data-key="all"]/td[@data-field="resolve_count"]/@data-value')) == want["resolve_count"]
    assert int(_value(page, '//*[@data-field="true_alarms"]/@data-value')) == want["true_alarms"]
    assert int(_value(page, '//*[@data-field="false_alarms"]/@data-value')) == want["false_alarms"]
    rate = _value(page, '//*[@data-metric="false_alarm_rate"]/@data-value')
    assert (float(rate) if rate else None) == want["false_alarm_rate"]

    breaches: dict[str, dict[str, int]] = {}
    for escalation in store.disposals.escalations(since=start):
        if escalation.at < end:
            counts = breaches.setdefault(DEPARTMENT_OF[escalation.warning_id], {"acknowledge": 0, "resolve": 0})
            counts[escalation.deadline] += 1
    shown_breaches = {
        tr.get("data-key"): {f: int(tr.xpath(f'td[@data-field="{f}"]/@data-value')[0]) for f in ("acknowledge", "resolve")}
        for tr in page.xpath('//table[@id="breaches"]//tr[@data-key]')
    }
    assert shown_breaches == breaches
    assert int(_value(page, '//*[@data-metric="breaches"]/@data-value')) == sum(sum(c.values()) for c in breaches.values())

    precision = {
        tr.get("data-key"): float(tr.xpath('td[@data-field="precision"]/@data-value')[0])
        for tr in page.xpath('//table[@id="precision"]//tr[@data-key]')
    }
    assert precision == pytest.approx(expected_precision())
    assert page.xpath("//img/@src") and all(src.startswith("data:image/png;base64,") for src in page.xpath("//img/@src"))
    assert not page.xpath("//link[@href] | //script[@src]"), "the report must not load anything from outside the file"

"""Conservative cold start: a warming detector's signal corroborates but never warns alone."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from riskwatch.alerts.grading.grader import Grader
from riskwatch.config.detector_params import CountSurgeConfig
from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Event, Level, Signal, Source
from riskwatch.detectors.base import observe_all
from riskwatch.detectors.count_surge import CountSurgeDetector, poisson_z
from tests.factories import T0, signal

CONFIG = load_city_config()
STREET = "410105002"


def _warming(source: Source, score: float, minutes: float = 0) -> Signal:
    return signal(source, score, minutes, detector="count_surge").model_copy(update={"warming": True})


def test_a_warming_detectors_lone_signal_makes_no_warning() -> None:
    grader = Grader(CONFIG)
    assert grader.grade(_warming(Source.hotline, 0.75)) is None
    assert grader.grade(_warming(Source.hotline, 0.8, minutes=10)) is None  # nor does a stronger one of the same source


def test_the_same_signal_once_warm_makes_a_warning() -> None:
    warning = Grader(CONFIG).grade(signal(Source.hotline, 0.75, detector="count_surge"))
    assert warning is not None and warning.level is Level.III
    assert not any("预热" in line for line in warning.explanation)


def test_a_warming_signal_corroborated_by_another_source_makes_a_warning() -> None:
    grader = Grader(CONFIG)
    assert grader.grade(_warming(Source.hotline, 0.75)) is None
    warning = grader.grade(signal(Source.police, 0.4, minutes=5))
    assert warning is not None and warning.level is Level.II  # 0.75 + 0.10 corroboration
    assert set(warning.sources) == {Source.hotline, Source.police}
    assert "count_surge 仍在预热（历史数据不足），其信号须经其他来源印证方可预警" in warning.explanation


def test_two_warming_sources_corroborate_each_other() -> None:
    grader = Grader(CONFIG)
    assert grader.grade(_warming(Source.hotline, 0.7)) is None
    warning = grader.grade(_warming(Source.police, 0.65, minutes=5))
    assert warning is not None and warning.level is Level.III


def test_a_warming_signal_does_not_hide_a_trusted_one_of_the_same_source() -> None:
    """A lone source is graded on its strongest signal not marked warming: a warming signal
    alongside adds no level, but takes none away either."""
    grader = Grader(CONFIG)
    assert grader.grade(_warming(Source.police, 0.85)) is None
    warning = grader.grade(signal(Source.police, 0.75, minutes=5, detector="burst"))
    assert warning is not None and warning.level is Level.III  # 0.75 (+0.03 population), not 0.85's II
    assert "按未预热的最强信号评分" in warning.explanation
    assert "最强信号：burst（110警情）评分 0.75" in warning.explanation


def test_a_hard_rule_is_never_held_back() -> None:
    warning = Grader(CONFIG).grade(signal(Source.sensor, 0.9, hard_rule="critical_limit").model_copy(update={"warming": True}))
    assert warning is not None and warning.level is Level.II


def test_a_published_warning_is_updated_by_a_warming_signal() -> None:
    grader = Grader(CONFIG)
    first = grader.grade(signal(Source.hotline, 0.65))
    assert first is not None and first.level is Level.IV
    update = grader.grade(_warming(Source.hotline, 0.75, minutes=10))
    assert update is not None and update.warning_id == first.warning_id and update.level is Level.III


# --------------------------------------------------------------------------- detectors mark their signals


def _report(i: int, at_minutes: float, category: str = "heating") -> Event:
    return Event(
        event_id=f"hotline:{i}",
        source=Source.hotline,
        occurred_at=T0 + timedelta(minutes=at_minutes),
        region_code=STREET,
        district_code=STREET[:6],
        street_code=STREET,
        category=category,
    )


def _surge_after(detector: CountSurgeDetector, hours: int, surge: int) -> list[Signal]:
    """`hours` of one report an hour, then `surge` reports in one half hour: the signals of the surge."""
    events = [_report(i, 60 * i) for i in range(hours)]
    events += [_report(1000 + i, 60 * hours + 2 * i) for i in range(surge)]
    return [s for e in events for s in observe_all([detector], e)]


def test_count_surge_marks_a_modest_surge_judged_on_less_than_a_day_of_baseline() -> None:
    config = CountSurgeConfig(sources=[Source.hotline], rhythm=False)  # one series: no rhythm to scale by
    cold = _surge_after(CountSurgeDetector(config), hours=6, surge=4)
    assert cold and all(s.warming for s in cold), "4 against 6 h of one an hour: would not stand had it held one more"
    warm = _surge_after(CountSurgeDetector(config), hours=30, surge=4)
    assert warm and not any(s.warming for s in warm)
    # A surge that stands against a pessimistic baseline is trusted even on a short one.
    strong = _surge_after(CountSurgeDetector(config), hours=6, surge=9)
    assert strong and not strong[-1].warming


class _Stub:
    """A detector that raises one signal per event and says it is warming up until told not to."""

    name = "stub"

    def __init__(self) -> None:
        self.warm = False

    def accepts(self, event: Event) -> bool:
        return True

    def observe(self, event: Event) -> list[Signal]:
        return [signal(Source.hotline, 0.9, detector=self.name, signal_id=event.event_id)]

    def warming_up(self) -> bool:
        return not self.warm


def test_signals_of_a_detector_that_says_it_is_warming_up_are_marked() -> None:
    stub = _Stub()
    assert [s.warming for s in observe_all([stub], _report(1, 0))] == [True]
    stub.warm = True
    assert [s.warming for s in observe_all([stub], _report(2, 5))] == [False]


# --------------------------------------------------------------------------- count_surge against the day's rhythm


def _city_day(surge: int) -> list[Event]:
    """A day of 30-min buckets: another street's volume rising from 2 to 14 reports a bucket at
    midday, our street's heating reports one every third bucket, then `surge` in the next bucket."""
    events: list[Event] = []
    for b in range(48):
        for i in range(2 if b < 24 else 14):
            events.append(
                _report(10_000 * b + i, 30 * b + i, category="environment").model_copy(update={"street_code": "410105001"})
            )
        if b % 3 == 0:
            events.append(_report(10_000 * b + 99, 30 * b + 20))
    events += [_report(900_000 + i, 30 * 48 + 2 * i) for i in range(surge)]
    return events


def _surges(detector: CountSurgeDetector, events: list[Event]) -> list[Signal]:
    return [s for e in events for s in detector.observe(e) if s.category == "heating"]


def test_a_few_reports_at_the_daily_peak_are_not_a_surge_against_the_rhythm() -> None:
    four = _city_day(4)
    flat = CountSurgeConfig(sources=[Source.hotline], rhythm=False)
    assert _surges(CountSurgeDetector(flat), four), "against a day's flat mean, 4 reports look like z 3.7"
    assert _surges(CountSurgeDetector(CountSurgeConfig(sources=[Source.hotline])), four) == []
    ten = _surges(CountSurgeDetector(CountSurgeConfig(sources=[Source.hotline])), _city_day(10))
    assert ten and ten[-1].observed == 10 and not ten[-1].warming


def test_the_rhythm_survives_a_state_round_trip() -> None:
    events = _city_day(6)
    original = CountSurgeDetector(CountSurgeConfig(sources=[Source.hotline]))
    for e in events[:-6]:
        original.observe(e)
    restored = CountSurgeDetector(CountSurgeConfig(sources=[Source.hotline]))
    restored.set_state(json.loads(json.dumps(original.get_state())))
    assert _surges(restored, events[-6:]) == _surges(original, events[-6:])


def test_poisson_z_is_the_normal_score_of_the_upper_tail() -> None:
    assert poisson_z(4, 0.5) < 3.0 < (4 - 0.5) / 1.0  # the spread floor of 1 overstates 4 against 0.5
    assert poisson_z(4, 0.11) > 4.0
    assert poisson_z(3, 3.0) == 0.0 and poisson_z(5, 0.0) == math.inf
    assert poisson_z(400, 0.1) > poisson_z(200, 0.1) > poisson_z(20, 0.1)  # ordered far into the tail

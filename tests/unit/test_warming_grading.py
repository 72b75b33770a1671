"""Conservative cold start: a warming detector's signal corroborates but never warns alone."""

from __future__ import annotations

from datetime import timedelta

from riskwatch.alerts.grading.grader import Grader
from riskwatch.config.detector_params import CountSurgeConfig
from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Event, Level, Signal, Source
from riskwatch.detectors.base import observe_all
from riskwatch.detectors.count_surge import CountSurgeDetector
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


def _surge_after(detector: CountSurgeDetector, hours: int) -> list[Signal]:
    """`hours` of one report an hour, then eight reports in one half hour: the signals of the surge."""
    events = [_report(i, 60 * i) for i in range(hours)]
    events += [_report(1000 + i, 60 * hours + 2 * i) for i in range(8)]
    return [s for e in events for s in observe_all([detector], e)]


def test_count_surge_marks_a_surge_judged_on_less_than_a_day_of_baseline() -> None:
    config = CountSurgeConfig(sources=[Source.hotline])
    cold = _surge_after(CountSurgeDetector(config), hours=6)
    assert cold and all(s.warming for s in cold)
    warm = _surge_after(CountSurgeDetector(config), hours=30)
    assert warm and not any(s.warming for s in warm)


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

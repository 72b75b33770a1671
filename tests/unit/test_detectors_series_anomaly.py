"""series_anomaly: one signal per episode of `persistence` anomalous readings, re-armed by calm."""

from __future__ import annotations

from datetime import datetime, timedelta

from riskwatch.config.detector_params import SeriesAnomalyParams
from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Source
from riskwatch.detectors.series_anomaly import SeriesAnomalyDetector
from riskwatch.streams.normalize import Normalizer
from tests.factories import T0, sensor

CONFIG = load_city_config()
NORMALIZER = Normalizer(CONFIG)


class _Scripted:
    """A series model that returns the scores it is given, in order (a unit-test stand-in)."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = iter(scores)

    def update(self, ts: datetime, value: float) -> float:
        return next(self.scores)

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: dict[str, object]) -> None:
        pass


def fired(scores: list[float], **params: object) -> list[int]:
    detector = SeriesAnomalyDetector(SeriesAnomalyParams(model="default", **params), CONFIG.taxonomy)  # type: ignore[arg-type]
    detector._make = lambda: _Scripted(scores)  # type: ignore[method-assign]
    out = []
    for i in range(len(scores)):
        event = NORMALIZER.normalize(Source.sensor, sensor("WP-1", T0 + timedelta(minutes=5 * i), 0.3))
        if detector.observe(event):
            out.append(i)
    return out


def test_a_signal_needs_persistence_readings_in_a_row() -> None:
    scores = [0.1, 0.1, 0.9995, 0.2, 0.9995, 0.9995, 0.9995, 0.1]
    assert fired(scores, threshold=0.999, persistence=2) == [5]
    assert fired(scores, threshold=0.999, persistence=1) == [2]  # then not re-armed: calm was 1 reading


def test_a_lasting_anomaly_is_one_signal_until_the_series_has_been_calm_for_rearm_readings() -> None:
    scores = [0.1, *[0.9995] * 6, *[0.1] * 3, *[0.9995] * 2, *[0.1] * 4, *[0.9995] * 2]
    assert fired(scores, threshold=0.999, persistence=2, rearm=4) == [2, 17]


def test_episode_state_round_trips() -> None:
    detector = SeriesAnomalyDetector(SeriesAnomalyParams(model="default", threshold=0.999, persistence=2), CONFIG.taxonomy)
    detector._episode[("WP-1", "water_pressure")] = [1, 0, 1]
    restored = SeriesAnomalyDetector(SeriesAnomalyParams(model="default", threshold=0.999, persistence=2), CONFIG.taxonomy)
    restored.set_state(detector.get_state())
    assert restored._episode == {("WP-1", "water_pressure"): [1, 0, 1]}

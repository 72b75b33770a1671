"""The worker's health snapshot: lag over riskwatch topics only, warming detectors, dead-letter rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from riskwatch.streams.health import WorkerCounters, consumer_lag, health_payload, warming_up


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


class FakeConsumer:
    def __init__(self, ends: dict[TP, int | None], positions: dict[TP, int | None]) -> None:
        self.ends, self.positions = ends, positions

    def assignment(self) -> set[TP]:
        return set(self.ends)

    def highwater(self, tp: TP) -> int | None:
        return self.ends[tp]

    async def position(self, tp: TP) -> int | None:
        if tp.partition == 9:
            raise RuntimeError("partition revoked")
        return self.positions[tp]


async def test_lag_sums_partitions_per_topic_and_skips_internal_and_unknown() -> None:
    a0, a1, b0 = TP("riskwatch.events", 0), TP("riskwatch.events", 1), TP("riskwatch.signals", 0)
    internal, unknown, revoked = TP("app-__assignor-__leader", 0), TP("riskwatch.signals", 1), TP("riskwatch.events", 9)
    consumer = FakeConsumer(
        {a0: 100, a1: 50, b0: 7, internal: 5, unknown: None, revoked: 10},
        {a0: 90, a1: 50, b0: 10, internal: 0, unknown: 3, revoked: 0},
    )
    lag = await consumer_lag(consumer, {"riskwatch.events", "riskwatch.signals"})
    assert lag == {"riskwatch.events": 10, "riskwatch.signals": 0}


class Detector:
    def __init__(self, name: str, warming: bool | None) -> None:
        self.name = name
        if warming is not None:
            self.warming_up = lambda: warming


def test_warming_up_lists_only_detectors_that_say_so() -> None:
    detectors = [Detector("burst", True), Detector("rules", False), Detector("legacy", None), Detector("count_trend", True)]
    assert warming_up(detectors) == ["burst", "count_trend"]


def test_dead_letter_rate_is_per_minute_since_the_previous_beat() -> None:
    t0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
    counters = WorkerCounters(started_at=t0)
    counters.dead_letters = 4
    first = health_payload(counters, now=t0, lag={}, warming=[])
    assert first["dead_letters_per_min"] == 0.0 and first["dead_letters"] == 4
    counters.dead_letters = 10
    second = health_payload(counters, now=t0 + timedelta(seconds=30), lag={"riskwatch.events": 3}, warming=["burst"])
    assert second["dead_letters_per_min"] == 12.0
    assert second["lag"] == {"riskwatch.events": 3} and second["warming_up"] == ["burst"]
    assert second["started_at"] == t0.isoformat()


def test_processed_offsets_are_the_next_offset_per_topic_and_partition() -> None:
    counters = WorkerCounters()
    counters.note_processed("riskwatch.events", 0, 41)
    counters.note_processed("riskwatch.events", 0, 42)
    counters.note_processed("riskwatch.events", 3, 7)
    counters.note_processed("riskwatch.signals", 1, 0)
    payload = health_payload(counters, now=datetime(2026, 11, 23, tzinfo=UTC), lag={}, warming=[])
    assert payload["processed"] == {"riskwatch.events": {"0": 43, "3": 8}, "riskwatch.signals": {"1": 1}}
    counters.note_processed("riskwatch.events", 0, 50)
    assert payload["processed"]["riskwatch.events"]["0"] == 43  # the payload is a copy, not a live view

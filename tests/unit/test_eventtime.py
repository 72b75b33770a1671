"""Event time: late events are placed or refused, re-sends are dropped."""

from __future__ import annotations

from datetime import timedelta

from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Source
from riskwatch.streams.eventtime import Admission, EventTimeGate
from riskwatch.streams.normalize import Normalizer
from tests.factories import T0, sensor

NORMALIZER = Normalizer(load_city_config())


def _event(minutes: float, device: str = "WP-1"):
    return NORMALIZER.normalize(Source.sensor, sensor(device, T0 + timedelta(minutes=minutes), 0.3))


def test_resend_is_dropped() -> None:
    gate = EventTimeGate(timedelta(hours=2), timedelta(hours=6))
    assert gate.admit(_event(0), "k") is Admission.accepted
    assert gate.admit(_event(0), "k") is Admission.duplicate


def test_gateway_flush_within_lateness_is_accepted_and_later_is_refused() -> None:
    gate = EventTimeGate(timedelta(hours=2), timedelta(hours=6))
    assert gate.admit(_event(180), "k") is Admission.accepted
    # An hour of readings flushed at once after an outage: within the bound.
    assert all(gate.admit(_event(m, "WP-2"), "k") is Admission.accepted for m in range(61, 180, 5))
    assert gate.admit(_event(59), "k") is Admission.late
    assert gate.counts[Admission.late] == 1


def test_watermarks_are_per_stream() -> None:
    gate = EventTimeGate(timedelta(hours=1), timedelta(hours=1))
    gate.admit(_event(600), "street-a")
    assert gate.admit(_event(0), "street-b") is Admission.accepted


def test_dedup_memory_is_bounded_by_the_horizon() -> None:
    gate = EventTimeGate(timedelta(minutes=10), timedelta(minutes=30))
    for minute in range(0, 600, 5):
        gate.admit(_event(minute), "k")
    assert len(gate._seen[(Source.sensor, "k")].ids) <= 30 // 5 + 1


def test_partitions_read_at_different_paces_are_not_late_but_resends_across_them_are_caught() -> None:
    gate = EventTimeGate(timedelta(hours=1), timedelta(hours=2))
    # Catching up on a backlog: partition 0 of a street read five hours ahead of partition 1.
    assert gate.admit(_event(300), "street/0", "street") is Admission.accepted
    assert gate.admit(_event(10, "WP-2"), "street/1", "street") is Admission.accepted
    # The same record re-sent into the other partition is still a re-send.
    assert gate.admit(_event(300), "street/1", "street") is Admission.duplicate

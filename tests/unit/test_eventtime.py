"""Event time: late events are placed or refused, re-sends are dropped."""

from __future__ import annotations

from datetime import timedelta

from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Source
from riskwatch.streams.eventtime import Admission, EventTimeGate
from riskwatch.streams.normalize import Normalizer
from riskwatch.streams.pipeline import DetectStage, stream_key
from tests.factories import T0, sensor

CONFIG = load_city_config()
NORMALIZER = Normalizer(CONFIG)


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


def _in_partition(minutes: float, partition: int, device: str = "WP-1"):
    return _event(minutes, device).model_copy(update={"raw_partition": partition})


def test_one_device_spread_over_partitions_is_judged_in_each_partitions_own_order() -> None:
    """An unkeyed producer spreads a device's readings over raw partitions; a worker catching up
    reads them at different paces. Only a reading late within its own partition is late."""
    stage = DetectStage(CONFIG)
    # Partition 1 holds the later hours and is read first, three hours ahead of partition 0.
    assert stage(_in_partition(240, 1))[1] is None
    assert stage(_in_partition(245, 1))[1] is None
    signals_or_late = [stage(_in_partition(m, 0))[1] for m in range(0, 60, 5)]
    assert signals_or_late == [None] * 12, "readings behind another partition's progress are not late"
    # A gateway flushing readings from three hours before its own partition's progress is late.
    _, late = stage(_in_partition(62, 1))
    assert late is not None and late.reason == "late"
    assert stage.gate.counts[Admission.late] == 1


def test_the_stream_key_names_the_device_or_street_and_the_raw_partition() -> None:
    assert stream_key(_in_partition(0, 3)) == "WP-1/3"
    assert stream_key(_event(0)) == "WP-1/-"  # offline replay: one file, one order

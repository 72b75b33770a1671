"""Event-to-warning latency for `riskwatch bench --latency`: paced input, matching, percentiles.

A latency read off a pre-filled backlog would only say how long the backlog took to drain, so
the latency phase sends a scenario at a steady pace (its arrival times compressed into a given
number of wall seconds) to a worker that is already consuming, and measures each warning
message against the raw records behind it:

- **event → warning**: the warning record's Kafka timestamp (set by the pipeline's producer
  when it published the Alert or Update) minus the send timestamp of the newest raw record
  among its evidence (warning → its signals' ids → their evidence event ids on
  `riskwatch.signals` → the raw records those event ids came from). The newest evidence record
  is the one that completed the warning. Where a detector keeps only part of its evidence (a
  surge keeps the first reports of its bucket), the record that tipped it may be newer than any
  kept, so the figure can only overstate the latency, never flatter it. Cancels are not
  counted: they follow feedback, timers or another incident, not a raw record.
- **warning → store**: when the warning version became readable in the worker's store (polled
  every `STORE_POLL_S` by a follower of `riskwatch.warnings`) minus the warning record's
  timestamp: what a command center reading the store (web view, API) waits on top.

Both clocks are this machine's wall clock (producers stamp CreateTime), so the figures are only
meaningful with the bench and the worker on one host, as `riskwatch bench` runs them.
"""

from __future__ import annotations

import asyncio
import base64
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import CityConfig
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, MsgType, Signal, Warning
from riskwatch.contracts import topics as T
from riskwatch.simulator.scenario import Scenario
from riskwatch.simulator.sinks import Outgoing, Pacer, producer_options
from riskwatch.streams.admin import client_kwargs
from riskwatch.streams.normalize import NormalizeError, Normalizer

#: A raw record the normalizer must refuse: once it is dead-lettered, the worker is consuming.
PROBE = b"riskwatch bench latency probe: not JSON on purpose"
#: Seconds between store reads of the warnings not yet visible there.
STORE_POLL_S = 0.02
CLIENT_ID = "riskwatch-bench-latency"

Positions = dict[TopicPartition, int]
Written = dict[TopicPartition, tuple[int, int]]


class LatencyError(RuntimeError):
    """The latency phase cannot go on; the message says why."""


# --------------------------------------------------------------------------- figures


@dataclass
class LatencyStats:
    """Percentiles of one latency, in milliseconds (None when nothing was measured)."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> LatencyStats:
        """Nearest-rank percentiles: every figure is one that was actually measured."""
        if not samples_ms:
            return cls(0, None, None, None)
        ordered = sorted(samples_ms)

        def rank(q: float) -> float:
            return round(ordered[max(math.ceil(q * len(ordered)) - 1, 0)], 1)

        return cls(len(ordered), rank(0.50), rank(0.99), round(ordered[-1], 1))

    def describe(self) -> str:
        if not self.count:
            return "none measured"
        return f"p50 {self.p50_ms:,.0f} ms, p99 {self.p99_ms:,.0f} ms, max {self.max_ms:,.0f} ms  (n={self.count})"


@dataclass
class LatencyResult:
    """The latency phase: what was sent at which pace, and what the warnings took."""

    scenario: str
    target_rate: float  # messages/s aimed at: a share of the pipeline's measured events/s
    messages: int
    send_seconds: float
    speed: float  # simulated seconds per wall second
    warning_messages: int  # on riskwatch.warnings during the phase, Cancels included
    cancels: int
    unmatched: int  # Alerts/Updates none of whose evidence was sent in this phase
    event_to_warning: LatencyStats
    warning_to_store: LatencyStats
    store_unseen: int  # warning versions never seen in the store before the watcher gave up
    store_poll_ms: float = field(default=STORE_POLL_S * 1000)

    @property
    def rate(self) -> float:
        return self.messages / self.send_seconds if self.send_seconds else 0.0


# --------------------------------------------------------------------------- input


def shifted_after(scenario: Scenario, after: datetime) -> Scenario:
    """The scenario moved by whole days so it starts after `after` (the event-time gate refuses
    events older than what the worker has already seen, so the phase must come later)."""
    days = max(0, math.floor((after - scenario.start) / timedelta(days=1)) + 1)
    delta = timedelta(days=days)
    return scenario.model_copy(update={
        "start": scenario.start + delta,
        "incidents": [i.model_copy(update={"start": i.start + delta}) for i in scenario.incidents],
        "realism": scenario.realism.model_copy(update={
            "gateway_outages": [o.model_copy(update={"start": o.start + delta})
                                for o in scenario.realism.gateway_outages],
        }),
    })


def event_ids(items: Sequence[Outgoing], city: CityConfig) -> list[str | None]:
    """The event id the pipeline will give each message (the same normalizer), None if it refuses it."""
    normalizer = Normalizer(city)
    ids: list[str | None] = []
    for item in items:
        try:
            ids.append(normalizer.normalize(item.source, item.value).event_id)
        except NormalizeError:
            ids.append(None)
    return ids


def window(items: Sequence[Outgoing], scenario: Scenario, n: int) -> list[Outgoing]:
    """`n` consecutive messages (by arrival) that start a quarter of the way before the first
    incident, so detectors see ordinary input first and the incident falls inside."""
    if n >= len(items):
        return list(items)
    first = min((i.start for i in scenario.incidents), default=None)
    at = 0 if first is None else next((k for k, item in enumerate(items) if item.arrival_time >= first), len(items))
    start = min(max(at - n // 4, 0), len(items) - n)
    return list(items[start:start + n])


def pace_for(items: Sequence[Outgoing], seconds: float) -> float:
    """Simulated seconds per wall second that spread the items' arrivals over `seconds`."""
    span = (items[-1].arrival_time - items[0].arrival_time).total_seconds() if items else 0.0
    return max(span / seconds, 1e-9)


async def produce_paced(bootstrap: str, items: Sequence[Outgoing], ids: Sequence[str | None], speed: float,
                        settings: Settings) -> tuple[dict[str, int], Written, float]:
    """Send each message at its arrival time compressed by `speed`; return, per event id, the
    CreateTime (ms) of its first send, the partitions written, and the seconds sending took."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0, **producer_options(settings))
    await producer.start()
    started = time.perf_counter()
    sent: dict[str, int] = {}
    written: Written = {}
    try:
        pacer, pending = Pacer(speed), []
        for item in items:
            await pacer.wait(item.arrival_time)
            pending.append(await producer.send(item.topic, item.value, key=item.key))
        for event_id, meta in zip(ids, await asyncio.gather(*pending), strict=True):
            tp = TopicPartition(meta.topic, meta.partition)
            low, high = written.get(tp, (meta.offset, meta.offset + 1))
            written[tp] = (min(low, meta.offset), max(high, meta.offset + 1))
            if event_id is not None:  # a re-send keeps the first send's time: the first one counted
                sent[event_id] = min(sent.get(event_id, meta.timestamp), meta.timestamp)
    finally:
        await producer.stop()
    return sent, written, time.perf_counter() - started


async def send_probe(bootstrap: str, settings: Settings) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **producer_options(settings))
    await producer.start()
    try:
        await producer.send_and_wait(T.RAW_HOTLINE.name, PROBE)
    finally:
        await producer.stop()


# --------------------------------------------------------------------------- reading


def _consumer(bootstrap: str, settings: Settings, positions: Positions) -> KafkaConsumer:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id=CLIENT_ID, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=50,
                             **client_kwargs(settings))
    consumer.assign(list(positions))
    for tp, offset in positions.items():
        consumer.seek(tp, offset)
    return consumer


def wait_for_probe(bootstrap: str, settings: Settings, deadletter_from: Positions, timeout_s: float) -> float:
    """Block until the probe shows up dead-lettered; return the seconds it took."""
    started = time.monotonic()
    consumer = _consumer(bootstrap, settings, deadletter_from)
    try:
        while time.monotonic() - started < timeout_s:
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    try:
                        letter = DeadLetter.model_validate_json(record.value)
                    except ValidationError:
                        continue
                    if base64.b64decode(letter.original_b64) == PROBE:
                        return time.monotonic() - started
    finally:
        consumer.close(autocommit=False)
    raise LatencyError(f"the worker did not dead-letter the probe record within {timeout_s:.0f}s")


def read_range(bootstrap: str, settings: Settings, start: Positions, end: Positions) -> list[Any]:
    """Every record from `start` up to (not including) `end` on those partitions."""
    todo = {tp: offset for tp, offset in start.items() if end.get(tp, offset) > offset}
    found: list[Any] = []
    if not todo:
        return found
    consumer = _consumer(bootstrap, settings, todo)
    deadline = time.monotonic() + 60.0
    try:
        while todo:
            if time.monotonic() > deadline:
                raise LatencyError(f"could not read {sorted(str(tp) for tp in todo)} up to their end offsets")
            for tp, records in consumer.poll(timeout_ms=200).items():
                found.extend(r for r in records if r.offset < end[tp])
                if consumer.position(tp) >= end[tp]:
                    todo.pop(tp, None)
    finally:
        consumer.close(autocommit=False)
    return found


class StoreWatcher(threading.Thread):
    """Follows `riskwatch.warnings` and notes when each warning version becomes readable in the store."""

    def __init__(self, bootstrap: str, settings: Settings, database_url: str, start: Positions) -> None:
        super().__init__(name="riskwatch-bench-store-watcher", daemon=True)
        self._consumer = _consumer(bootstrap, settings, start)
        self._store = WarningStore(database_url)
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.pending: dict[tuple[str, int], int] = {}  # (warning id, version) → record timestamp (ms)
        self.visible_ms: dict[tuple[str, int], float] = {}  # … → store-visible minus record timestamp
        self.positions: Positions = dict(start)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                for tp, records in self._consumer.poll(timeout_ms=int(STORE_POLL_S * 1000)).items():
                    for record in records:
                        try:
                            warning = Warning.model_validate_json(record.value)
                        except ValidationError:
                            continue
                        with self._lock:
                            self.pending[(warning.warning_id, warning.version)] = record.timestamp
                    with self._lock:
                        self.positions[tp] = self._consumer.position(tp)
                self._check_store()
        except BaseException as exc:  # noqa: BLE001 - reported by the phase, never lost
            self.error = exc
        finally:
            self._consumer.close(autocommit=False)
            self._store.close()

    def _check_store(self) -> None:
        with self._lock:
            waiting = dict(self.pending)
        for (warning_id, version), stamp in waiting.items():
            try:
                stored = self._store.warnings.get(warning_id)
            except Exception:  # noqa: BLE001 - the worker may hold a write lock: try again next round
                return
            if stored is not None and stored.version >= version:
                seen = time.time() * 1000
                with self._lock:
                    self.pending.pop((warning_id, version), None)
                    self.visible_ms[(warning_id, version)] = seen - stamp

    def settled(self, ends: Positions) -> bool:
        """Read up to `ends` with nothing left waiting for the store."""
        with self._lock:
            return not self.pending and all(self.positions.get(tp, 0) >= end for tp, end in ends.items())

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


# --------------------------------------------------------------------------- matching


@dataclass
class Matched:
    samples_ms: list[float]
    cancels: int
    unmatched: int
    total: int


def match(warnings: Sequence[Any], signals: Sequence[Any], sent: dict[str, int]) -> Matched:
    """Event-to-warning samples: each Alert/Update record's timestamp minus the newest send of its evidence."""
    evidence: dict[str, tuple[str, ...]] = {}
    for record in signals:
        try:
            signal = Signal.model_validate_json(record.value)
        except ValidationError:
            continue
        evidence[signal.signal_id] = signal.evidence
    samples: list[float] = []
    cancels = unmatched = total = 0
    for record in warnings:
        try:
            warning = Warning.model_validate_json(record.value)
        except ValidationError:
            continue
        total += 1
        if warning.msg_type is MsgType.cancel:
            cancels += 1
            continue
        times = [sent[e] for s in warning.signals for e in evidence.get(s.signal_id, ()) if e in sent]
        if not times:
            unmatched += 1
            continue
        samples.append(float(record.timestamp - max(times)))
    return Matched(samples, cancels, unmatched, total)

"""Where simulated records go: JSON-lines files or the raw Kafka topics, as raw bytes.

`encode` turns a simulation into what upstream systems would actually send, in arrival order:
topic, key and value bytes. That is also where the scenario's realism switches act: extra
corrupted sends (bad JSON, bad UTF-8, missing fields, wrong types, out-of-range values,
unknown fields) and exact re-sends. Late records (gateway outages) are already placed by
arrival time in the simulation.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from riskwatch.config.loader import CityConfig
from riskwatch.contracts import Source
from riskwatch.contracts.topics import RAW_TOPICS
from riskwatch.simulator.generate import SimRecord, Simulation, simulate
from riskwatch.simulator.scenario import Scenario

FILE_NAMES = {Source.hotline: "hotline.jsonl", Source.police: "police.jsonl", Source.sensor: "sensor.jsonl"}
GROUND_TRUTH_FILE = "ground_truth.json"

SendKind = Literal["record", "malformed", "duplicate"]


@dataclass(frozen=True)
class Outgoing:
    """One message as sent: raw bytes for a topic, with the simulated times behind it."""

    topic: str
    key: bytes | None
    value: bytes
    source: Source
    event_time: datetime
    arrival_time: datetime
    kind: SendKind = "record"
    late: bool = False
    defect: str | None = None  # for malformed sends: which corruption


@dataclass
class SimStats:
    """What a run sent: valid records per source, plus the faults injected."""

    scenario: str
    records: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in Source})
    malformed: int = 0
    duplicates: int = 0
    late: int = 0
    incidents: int = 0
    first_event: datetime | None = None
    last_event: datetime | None = None
    wall_seconds: float = 0.0

    @property
    def hotline(self) -> int:
        return self.records[Source.hotline.value]

    @property
    def police(self) -> int:
        return self.records[Source.police.value]

    @property
    def sensor(self) -> int:
        return self.records[Source.sensor.value]

    @property
    def sent(self) -> int:
        """Messages sent, faults included."""
        return sum(self.records.values()) + self.malformed + self.duplicates

    def add(self, item: Outgoing) -> None:
        if item.kind == "malformed":
            self.malformed += 1
        elif item.kind == "duplicate":
            self.duplicates += 1
        else:
            self.records[item.source.value] += 1
            self.late += item.late
            if self.first_event is None or item.event_time < self.first_event:
                self.first_event = item.event_time
            if self.last_event is None or item.event_time > self.last_event:
                self.last_event = item.event_time

    def as_dict(self) -> dict[str, Any]:
        """Flat: valid records per source (`hotline`, `police`, `sensor`), faults, and `sent` (all messages)."""
        return {
            "scenario": self.scenario, **self.records, "malformed": self.malformed,
            "duplicates": self.duplicates, "late": self.late, "sent": self.sent, "incidents": self.incidents,
            "first_event": self.first_event.isoformat() if self.first_event else None,
            "last_event": self.last_event.isoformat() if self.last_event else None,
            "wall_seconds": round(self.wall_seconds, 3),
        }

    def summary(self) -> str:
        return (f"{self.scenario}: hotline {self.hotline}, police {self.police}, sensor {self.sensor} records; "
                f"late {self.late}, malformed {self.malformed}, duplicates {self.duplicates}; "
                f"{self.incidents} incident(s); {self.wall_seconds:.1f} s")


# ----------------------------------------------------------------------------- bytes


_MISSING = {Source.hotline: ("content", "received_at", "district_code"), Source.police: ("reported_at", "lat", "type_code"),
            Source.sensor: ("value", "ts", "device_id")}
_WRONG_TYPE = {Source.hotline: ("received_at", "昨天下午"), Source.police: ("priority", "紧急"),
               Source.sensor: ("value", "N/A")}
DEFECTS = ("truncated", "not_json", "bad_utf8", "missing_field", "wrong_type", "out_of_range", "not_object",
           "unknown_field")


def corrupt(rng: random.Random, rec: SimRecord, value: bytes) -> tuple[str, bytes]:
    """A corrupted version of a record's bytes, as broken upstream systems send them."""
    defect = rng.choice(DEFECTS)
    data = json.loads(value)
    if defect == "truncated":
        return defect, value[: rng.randrange(1, len(value) - 1)]
    if defect == "not_json":
        return defect, rng.choice((b"<html><body>502 Bad Gateway</body></html>", b"OK", b"{'value': 1}"))
    if defect == "bad_utf8":
        cut = value.index(b'":"') + 3
        return defect, value[:cut] + b"\xff\xfe" + value[cut:]
    if defect == "missing_field":
        data.pop(rng.choice(_MISSING[rec.source]), None)
    elif defect == "wrong_type":
        name, bad = _WRONG_TYPE[rec.source]
        data[name] = bad
    elif defect == "out_of_range":
        if rec.source is Source.hotline:
            data["district_code"] = data["district_code"][:5]
        else:
            data["lat"], data["lon"] = data["lon"], data["lat"]  # swapped: lat 113.x is out of range
    elif defect == "not_object":
        return defect, rng.choice((b"null", b"[]", b"42"))
    else:
        data["gateway_fw"] = "2.1.3"
    return defect, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode(sim: Simulation) -> list[Outgoing]:
    """Every message to send, in arrival order, with the scenario's faults injected."""
    realism = sim.scenario.realism
    rng = random.Random(f"{sim.scenario.seed}:realism")
    items: list[Outgoing] = []
    for rec in sim.by_arrival():
        value = rec.record.model_dump_json().encode("utf-8")
        topic, key = RAW_TOPICS[rec.source].name, rec.key.encode("utf-8")
        items.append(Outgoing(topic, key, value, rec.source, rec.event_time, rec.arrival_time, "record", rec.late))
        if rng.random() < realism.malformed_fraction:
            defect, bad = corrupt(rng, rec, value)
            at = rec.arrival_time + timedelta(seconds=rng.randrange(1, 30))
            items.append(Outgoing(topic, key, bad, rec.source, rec.event_time, at, "malformed", False, defect))
        if rng.random() < realism.duplicate_fraction:
            at = rec.arrival_time + timedelta(seconds=rng.randrange(1, 120))
            items.append(Outgoing(topic, key, value, rec.source, rec.event_time, at, "duplicate", rec.late))
    items.sort(key=lambda item: item.arrival_time)  # stable: ties keep generation order
    return items


def _simulation(scenario: Scenario | Simulation, city: CityConfig | None) -> Simulation:
    return scenario if isinstance(scenario, Simulation) else simulate(scenario, city)


def write_ground_truth(sim: Simulation, path: Path | str) -> Path:
    """Write the incidents, their windows, streets, expected levels and categories as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sim.ground_truth_doc(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- files


def write_files(scenario: Scenario | Simulation, out_dir: Path | str, *, city: CityConfig | None = None,
                ground_truth_path: Path | str | None = None) -> SimStats:
    """Write `hotline.jsonl`, `police.jsonl`, `sensor.jsonl` (raw bytes, one message a line, in
    arrival order) and `ground_truth.json` into `out_dir`."""
    started = time.perf_counter()
    sim = _simulation(scenario, city)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats = SimStats(sim.scenario.name, incidents=len(sim.ground_truth))
    handles = {s: (out / name).open("wb") for s, name in FILE_NAMES.items()}
    try:
        for item in encode(sim):
            handles[item.source].write(item.value + b"\n")
            stats.add(item)
    finally:
        for handle in handles.values():
            handle.close()
    write_ground_truth(sim, out / GROUND_TRUTH_FILE)
    if ground_truth_path:
        write_ground_truth(sim, ground_truth_path)
    stats.wall_seconds = time.perf_counter() - started
    return stats


# ----------------------------------------------------------------------------- kafka


class Pacer:
    """Sleeps so that simulated time advances `speed` seconds per wall second (0 = no waiting)."""

    def __init__(self, speed: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.speed, self.clock, self.sleep = speed, clock, sleep
        self._origin: tuple[datetime, float] | None = None

    async def wait(self, sim_time: datetime) -> None:
        if self.speed <= 0:
            return
        if self._origin is None:
            self._origin = (sim_time, self.clock())
        sim0, wall0 = self._origin
        delay = wall0 + (sim_time - sim0).total_seconds() / self.speed - self.clock()
        if delay > 0:
            await self.sleep(delay)


def producer_options(settings: Any) -> dict[str, Any]:
    """aiokafka producer security options from `riskwatch.config.settings.Settings`."""
    opts: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        opts["ssl_context"] = create_ssl_context()
    if settings.sasl_mechanism:
        opts.update(sasl_mechanism=settings.sasl_mechanism, sasl_plain_username=settings.sasl_username,
                    sasl_plain_password=settings.sasl_password)
    return opts


#: Sends in flight before `send_in_order` waits for their acknowledgements.
SEND_BATCH = 500


async def send_in_order(producer: Any, items: Iterable[Outgoing], *, pacer: Pacer | None = None,
                        on_sent: Callable[[Outgoing], None] | None = None) -> None:
    """Send `items` in order through a started aiokafka producer, paced by arrival time if a
    `pacer` is given; returns once every send is acknowledged (awaited every `SEND_BATCH`)."""
    pending: list[Awaitable[Any]] = []
    for item in items:
        if pacer is not None:
            await pacer.wait(item.arrival_time)
        pending.append(await producer.send(item.topic, item.value, key=item.key))
        if on_sent:
            on_sent(item)
        if len(pending) >= SEND_BATCH:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def publish_to_kafka(
    scenario: Scenario | Simulation,
    bootstrap: str,
    speed: float = 0.0,
    *,
    city: CityConfig | None = None,
    ground_truth_path: Path | str | None = None,
    producer_kwargs: dict[str, Any] | None = None,
    on_sent: Callable[[Outgoing, SimStats], None] | None = None,
) -> SimStats:
    """Send the scenario to the raw topics (key = record id, value = record JSON bytes), paced by
    arrival time at `speed` simulated seconds per wall second (0 = as fast as possible)."""
    from aiokafka import AIOKafkaProducer

    started = time.perf_counter()
    sim = _simulation(scenario, city)
    if ground_truth_path:
        write_ground_truth(sim, ground_truth_path)
    stats = SimStats(sim.scenario.name, incidents=len(sim.ground_truth))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **(producer_kwargs or {}))
    try:
        await producer.start()

        def sent(item: Outgoing) -> None:
            stats.add(item)
            if on_sent:
                on_sent(item, stats)

        await send_in_order(producer, encode(sim), pacer=Pacer(speed), on_sent=sent)
    finally:
        await producer.stop()
    stats.wall_seconds = time.perf_counter() - started
    return stats

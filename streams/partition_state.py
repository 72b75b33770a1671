"""State that follows partitions: one detect stage and one grader per partition, snapshotted
to the store so whichever worker a partition moves to resumes it warm.

Events and signals are keyed by district, and both topics have the same partition count, so
partition p of `riskwatch.events` and of `riskwatch.signals` hold the same districts and their
state is independent of every other partition's. Each stateful agent keeps a
`PartitionStates`: the state of each partition it reads, built on the partition's first record
from the latest snapshot in the store (table `partition_snapshots`, shared by the group), or
fresh when there is none.

Offsets and snapshots agree by construction:

* Faust never commits these topics (they are declared with `acks=False`); the worker commits
  partition p's offset itself, and only to the offset its just-written snapshot covers. So the
  committed offset is never ahead of the snapshot, whoever reads p next.
* A partition's state records the next offset it has not seen; a record below it (re-read
  after a rebalance seeks back to the committed offset, or covered by the restored snapshot)
  is skipped, so no record is counted twice and no output is published twice.
* A partition with no snapshot was never committed: it is read from the earliest retained
  record (`consumer_auto_offset_reset`), cold, which is what its state must see.

Snapshots are pickles: they are read only from the group's own store, never from elsewhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Generic, Protocol, TypeVar

from riskwatch.alerts.store.partition_snapshots import PartitionSnapshot, PartitionSnapshotRepository
from riskwatch.detectors.base import warming_detectors
from riskwatch.detectors.registry import Watched
from riskwatch.streams.pipeline import DetectStage

log = logging.getLogger(__name__)

#: The gate's memory (per-stream watermarks, recent ids); its settings and counters stay the worker's own.
GATE_STATE = ("_watermarks", "_seen")

#: Bump when the layout of a partition snapshot changes; older snapshots are then not restored.
PARTITION_SNAPSHOT_FORMAT = 1
#: Backoff of the read of a partition's snapshot while the store is away (seconds).
READ_RETRY_FIRST_S = 0.5
READ_RETRY_MAX_S = 15.0

S = TypeVar("S")


class StateCodec(Protocol[S]):
    """Turns one partition's state into picklable data and back."""

    def dump(self, state: S) -> Any:
        """Picklable data `load` can put back into a freshly built state."""

    def load(self, state: S, data: Any) -> tuple[list[str], dict[str, str]]:
        """Put `data` into `state`; the parts restored and the parts left fresh (with why)."""


class DetectCodec:
    """A detect stage: its event-time gate and each detector, checked against its spec."""

    def dump(self, stage: DetectStage) -> dict[str, Any]:
        detectors = {
            d.name: {"class": _class_name(d.inner), "digest": d.digest, "state": d.get_state()}
            for d in stage.detectors
            if isinstance(d, Watched)
        }
        return {"gate": {name: getattr(stage.gate, name) for name in GATE_STATE}, "detectors": detectors}

    def load(self, stage: DetectStage, data: Any) -> tuple[list[str], dict[str, str]]:
        for name in GATE_STATE:
            setattr(stage.gate, name, data["gate"][name])
        restored, fresh = ["gate"], {}
        saved: dict[str, Any] = data["detectors"]
        for detector in stage.detectors:
            if not isinstance(detector, Watched):
                continue
            entry = saved.get(detector.name)
            if entry is None:
                fresh[detector.name] = "not in the snapshot"
            elif (entry["class"], entry["digest"]) != (_class_name(detector.inner), detector.digest):
                fresh[detector.name] = "its spec changed since the snapshot"
            else:
                try:
                    detector.set_state(entry["state"])
                except Exception as exc:  # noqa: BLE001 - a state that does not fit starts that detector fresh
                    fresh[detector.name] = f"saved state does not fit ({type(exc).__name__}: {exc})"
                    continue
                restored.append(detector.name)
        return restored, fresh


class GraderCodec:
    """A grader: its open incidents (`get_state` / `set_state`)."""

    def dump(self, grader: Any) -> Any:
        return grader.get_state()

    def load(self, grader: Any, data: Any) -> tuple[list[str], dict[str, str]]:
        grader.set_state(data)
        return ["grader"], {}


def riskwatch_version() -> str:
    """The installed riskwatch version, recorded with each snapshot."""
    try:
        return version("riskwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "0+unknown"


def make_snapshot(group_id: str, stage: str, partition: int, offset: int, codec: StateCodec[S], state: S) -> PartitionSnapshot:
    """A snapshot of `state` covering `partition` up to (not including) `offset`, taken now."""
    return PartitionSnapshot(
        group_id=group_id, stage=stage, partition=partition, offset=offset,
        format=PARTITION_SNAPSHOT_FORMAT, riskwatch_version=riskwatch_version(),
        blob=pickle.dumps(codec.dump(state), protocol=pickle.HIGHEST_PROTOCOL), saved_at=datetime.now(UTC),
    )


def _class_name(owner: object) -> str:
    return f"{type(owner).__module__}.{type(owner).__qualname__}"


@dataclass(frozen=True)
class Restore:
    """How one partition's state began in this worker."""

    partition: int
    #: The offset the restored snapshot covers up to; None: no usable snapshot, started fresh.
    offset: int | None
    restored: list[str] = field(default_factory=list)
    fresh: dict[str, str] = field(default_factory=dict)
    saved_at: datetime | None = None
    #: Detectors still warming up right after the restore.
    warming: list[str] = field(default_factory=list)

    def describe(self, stage: str, topic: str) -> str:
        if self.offset is None:
            why = "; ".join(f"{k}: {v}" for k, v in self.fresh.items()) or "no snapshot"
            return f"{stage} state of {topic}[{self.partition}] starts fresh ({why})"
        cold = "; ".join(f"{k}: {v}" for k, v in self.fresh.items()) or "none"
        return (f"{stage} state of {topic}[{self.partition}] restored from the snapshot at offset {self.offset} "
                f"saved {self.saved_at.isoformat() if self.saved_at else '-'}: restored {', '.join(self.restored)}; "
                f"fresh: {cold}; still warming up: {', '.join(self.warming) or 'none'}")


class PartitionStates(Generic[S]):
    """One stateful stage's state per partition of its topic, restored from and saved to the store."""

    def __init__(
        self,
        *,
        stage: str,
        topic: str,
        group_id: str,
        build: Callable[[int], S],
        codec: StateCodec[S],
        snapshots: PartitionSnapshotRepository,
        every_s: float,
        clock: Callable[[], float] = time.monotonic,
        earliest: Callable[[int], Awaitable[int]] | None = None,
    ) -> None:
        """`earliest` gives a partition's first retained offset: a partition whose first record
        here is that one starts fresh without its snapshot while the store cannot be read."""
        self.stage, self.topic, self.group_id = stage, topic, group_id
        self._build, self._codec, self._snapshots = build, codec, snapshots
        self.every_s, self._clock, self._earliest = every_s, clock, earliest
        self._states: dict[int, S] = {}
        #: Next offset each partition's state has not seen.
        self._next: dict[int, int] = {}
        #: The offset each partition's last snapshot (saved or restored) covers up to.
        self._saved: dict[int, int] = {}
        self._saved_when: dict[int, float] = {}
        #: How each partition held now began: restored (from which offset) or fresh.
        self.restores: dict[int, Restore] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        #: Partitions whose record is being handled: their state may hold part of a record
        #: whose outputs are not all sent, so they are not snapshotted until it is processed.
        self._in_flight: set[int] = set()

    # ------------------------------------------------------------------ records

    async def for_record(self, partition: int, offset: int) -> S | None:
        """The state a record of `partition` goes to, or None if the state has seen it already.

        A partition's first record opens its state from the store; while the store cannot be
        read the record is held and the read retried, as the store agents hold theirs.
        """
        state = self._states.get(partition)
        if state is None:
            state = await self._open(partition, offset)
        if offset < self._next.get(partition, 0):
            return None
        self._in_flight.add(partition)
        return state

    def processed(self, partition: int, offset: int) -> None:
        """The record at `offset` is in the partition's state now (a skipped record changes nothing)."""
        self._in_flight.discard(partition)
        if partition in self._states:
            self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def __iter__(self) -> Iterator[tuple[int, S]]:
        return iter(list(self._states.items()))

    @property
    def partitions(self) -> list[int]:
        return sorted(self._states)

    async def _open(self, partition: int, offset: int) -> S:
        state = self._build(partition)
        try:
            snapshot = await asyncio.to_thread(self._snapshots.get, self.group_id, self.stage, partition)
        except Exception as exc:  # noqa: BLE001 - the store is away
            if await self._from_the_start(partition, offset):
                # Read from its first retained record, a fresh state sees the partition's whole
                # history whatever a snapshot holds: no need to wait for the store.
                restore = Restore(partition, None, fresh={self.stage: f"snapshot unreadable now ({type(exc).__name__}), "
                                                                      f"read from the first retained record {offset}"})
                return self._opened(partition, state, restore)
            snapshot = await self._read_snapshot(partition)
        return self._opened(partition, state, self._restore(partition, state, snapshot))

    async def _from_the_start(self, partition: int, offset: int) -> bool:
        if self._earliest is None:
            return False
        try:
            return offset <= await self._earliest(partition)
        except Exception:  # noqa: BLE001 - unknown: wait for the store
            return False

    def _opened(self, partition: int, state: S, restore: Restore) -> S:
        restore = dataclasses.replace(restore, warming=warming_detectors(getattr(state, "detectors", [])))
        self._states[partition] = state
        self.restores[partition] = restore
        if restore.offset is not None:
            self._next[partition] = self._saved[partition] = restore.offset
        self._saved_when[partition] = self._clock()
        log.warning("%s", restore.describe(self.stage, self.topic))
        return state

    async def _read_snapshot(self, partition: int) -> PartitionSnapshot | None:
        delay = READ_RETRY_FIRST_S
        while True:
            try:
                return await asyncio.to_thread(self._snapshots.get, self.group_id, self.stage, partition)
            except Exception as exc:  # noqa: BLE001 - the store away must not lose the partition's history
                log.warning("cannot read the %s snapshot of %s[%d] (%s: %s); retrying in %.1f s",
                            self.stage, self.topic, partition, type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, READ_RETRY_MAX_S)

    def _restore(self, partition: int, state: S, snapshot: PartitionSnapshot | None) -> Restore:
        if snapshot is None:
            return Restore(partition, None, fresh={self.stage: "no snapshot"})
        if (snapshot.format, snapshot.riskwatch_version) != (PARTITION_SNAPSHOT_FORMAT, riskwatch_version()):
            why = (f"snapshot format {snapshot.format} of riskwatch {snapshot.riskwatch_version}, this worker "
                   f"has {PARTITION_SNAPSHOT_FORMAT} of {riskwatch_version()}")
            return Restore(partition, None, fresh={self.stage: why})
        try:
            restored, fresh = self._codec.load(state, pickle.loads(snapshot.blob))
        except Exception as exc:  # noqa: BLE001 - an unreadable snapshot starts the partition fresh, loudly
            return Restore(partition, None, fresh={self.stage: f"unreadable snapshot ({type(exc).__name__}: {exc})"})
        return Restore(partition, snapshot.offset, restored, fresh, snapshot.saved_at)

    # ------------------------------------------------------------------ snapshots

    def due_partitions(self) -> list[int]:
        """Partitions held whose snapshot is due (see `due`) and that no record is in the middle of."""
        return [p for p in self.partitions if self.due(p) and p not in self._in_flight]

    def due(self, partition: int) -> bool:
        """Whether the partition has unsaved records and its last snapshot is `every_s` old."""
        return (self._next.get(partition) != self._saved.get(partition)
                and self._clock() - self._saved_when.get(partition, 0.0) >= self.every_s)

    def dump(self, partition: int) -> PartitionSnapshot | None:
        """A snapshot of the partition's state as it is now, or None if it has nothing unsaved or
        a record of it is being handled."""
        offset = self._next.get(partition)
        if partition not in self._states or offset is None or offset == self._saved.get(partition):
            return None
        if partition in self._in_flight:
            return None
        return make_snapshot(self.group_id, self.stage, partition, offset, self._codec, self._states[partition])

    def saved(self, snapshot: PartitionSnapshot) -> None:
        """The snapshot is in the store: its offset may be committed."""
        self._saved[snapshot.partition] = snapshot.offset
        self._saved_when[snapshot.partition] = self._clock()

    async def checkpoint(
        self,
        partition: int,
        flush: Callable[[], Awaitable[None]],
        commit: Callable[[PartitionSnapshot], Awaitable[None]] | None = None,
    ) -> PartitionSnapshot | None:
        """Snapshot the partition, then make its offset committable; the snapshot, or None.

        The state is pickled first, then the producer is flushed (so every output of a record
        the snapshot covers is on Kafka), then the snapshot is written (in a thread), and only
        then `commit` is told. One checkpoint of a partition at a time, so an older snapshot
        never lands after a newer one.
        """
        async with self._locks.setdefault(partition, asyncio.Lock()):
            snapshot = self.dump(partition)
            if snapshot is None:
                return None
            try:
                await flush()
                await asyncio.to_thread(self._snapshots.put, snapshot)
            except Exception as exc:  # noqa: BLE001 - not saved: nothing is committed, the last snapshot stands
                log.warning("could not save the %s snapshot of %s[%d] (%s: %s); next try in %.0f s",
                            self.stage, self.topic, partition, type(exc).__name__, exc, self.every_s)
                self._saved_when[partition] = self._clock()  # not on every record while the store is away
                return None
            self.saved(snapshot)
            if commit is not None:
                await commit(snapshot)
            return snapshot

    def keep_only(self, partitions: set[int]) -> list[int]:
        """Forget the state of every partition not in `partitions` (no longer assigned here)."""
        gone = [p for p in self._states if p not in partitions]
        for partition in gone:
            for table in (self._states, self._next, self._saved, self._saved_when, self.restores):
                table.pop(partition, None)
            self._in_flight.discard(partition)
        return gone

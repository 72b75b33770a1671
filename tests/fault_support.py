"""Helpers for fault tests: a worker process that can be killed, exact views of topics, and what
the input must become (normalized offline) to compare them with.

Everything here awaits conditions (end offsets, committed offsets, a ready file naming the
worker's pid) instead of sleeping for a guessed time.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from kafka.admin import OffsetSpec

from riskwatch.config.loader import load_city_config
from riskwatch.config.regions import RegionIndex
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, Warning
from riskwatch.contracts import topics as T
from riskwatch.simulator.sinks import Outgoing, send_in_order
from riskwatch.streams.admin import Offsets
from riskwatch.streams.pipeline import NormalizeStage
from riskwatch.streams.worker import ready_file, worker_env

#: Topics the worker's consumer group reads; zero lag on all of them means it has drained.
CONSUMED = [*(spec.name for spec in T.RAW_TOPICS.values()), T.EVENTS.name, T.SIGNALS.name, T.WARNINGS.name]


def await_condition(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.2) -> None:
    """Poll `condition` until it holds; fail the test naming `what` if it does not in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(poll_s)


async def produce(bootstrap: str, items: Sequence[Outgoing]) -> None:
    """Send the messages in order with acks=all; return once every one is acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        await send_in_order(producer, items)
    finally:
        await producer.stop()


def end_offsets(bootstrap: str, settings: Settings, names: Iterable[str]) -> dict[str, int]:
    """Records ever written to each topic (sum of its partitions' end offsets)."""
    offsets = Offsets(bootstrap, settings)
    try:
        tps = offsets.partitions(list(names))
        ends = offsets.admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
        totals: dict[str, int] = {}
        for tp in tps:
            totals[tp.topic] = totals.get(tp.topic, 0) + ends[tp].offset
        return totals
    finally:
        offsets.close()


def group_committed(bootstrap: str, settings: Settings, names: Sequence[str]) -> dict[TopicPartition, int]:
    """The worker group's committed offsets on `names` (partitions without a commit are left out)."""
    offsets = Offsets(bootstrap, settings)
    try:
        return {tp: n for tp, n in offsets.committed(settings.app_id).items() if tp.topic in names}
    finally:
        offsets.close()


def group_lag(bootstrap: str, settings: Settings, names: Sequence[str] = CONSUMED) -> int:
    """Records on `names` the worker's group has not committed yet (exact on Apache Kafka)."""
    offsets = Offsets(bootstrap, settings)
    try:
        tps = offsets.partitions(list(names))
        ends = offsets.admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
        committed = offsets.committed(settings.app_id)
        return sum(max(ends[tp].offset - committed.get(tp, 0), 0) for tp in tps)
    finally:
        offsets.close()


async def read_to_end(bootstrap: str, names: Sequence[str]) -> dict[str, list[bytes]]:
    """Every record value on `names`, from the beginning up to their current end offsets."""
    consumer = AIOKafkaConsumer(*names, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, list[bytes]] = {name: [] for name in names}
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment():
            if time.monotonic() > deadline:
                pytest.fail(f"no partitions of {names} assigned to the reader")
            await asyncio.sleep(0.1)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    if record.offset < ends[TopicPartition(record.topic, record.partition)]:
                        seen[record.topic].append(record.value)
        return seen
    finally:
        await consumer.stop()


@dataclass
class WorkerProcess:
    """`riskwatch worker` as a child process, with its log in `log_path`."""

    settings: Settings
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120) -> None:
        """Launch and wait until the worker has joined its group (its ready file names *its* pid).

        A worker killed with SIGKILL leaves its ready file behind, so the file's existence
        alone does not say that a new worker is ready.
        """
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "riskwatch.tools", "worker"],
                env=worker_env(self.settings), stdout=log, stderr=subprocess.STDOUT,
            )
        pid = str(self.process.pid)
        ready = ready_file(self.settings)

        def is_ready() -> bool:
            if self.process is None or self.process.poll() is not None:
                return True
            try:
                return ready.read_text(encoding="ascii") == pid
            except FileNotFoundError:
                return False

        await_condition(is_ready, timeout_s, "the worker's ready file")
        assert self.alive, f"worker exited with {self.process.returncode}:\n{self.log_tail()}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commit, no final snapshot."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL if it does not stop in time)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def offline_outcome(raw: Iterable[Outgoing]) -> tuple[set[str], Counter[tuple[str, bytes]]]:
    """Event ids the raw sends must become, and the (topic, bytes) that must be dead-lettered,
    by normalizing them offline with the city's configuration."""
    config = load_city_config()
    normalize = NormalizeStage(config, RegionIndex(config.regions))
    event_ids: set[str] = set()
    dead: Counter[tuple[str, bytes]] = Counter()
    for item in raw:
        result = normalize(item.source, item.value)
        if isinstance(result, DeadLetter):
            dead[(item.topic, item.value)] += 1
        else:
            event_ids.add(result.event_id)
    return event_ids, dead


def dead_lettered_records(letters: Iterable[DeadLetter]) -> Counter[tuple[str, bytes]]:
    """The (topic, bytes) of each distinct record dead-lettered, as offline_outcome counts them.

    Dead letters are at least once: a record dead-lettered just before its partition moved to
    another worker (before the offset was committed) is dead-lettered again there. A dead letter
    is identified by where its record came from (topic, partition, offset), and copies of one
    must carry the same reason and bytes.
    """
    by_origin: dict[tuple[str, int | None, int | None], DeadLetter] = {}
    for letter in letters:
        origin = (letter.source_topic, letter.partition, letter.offset)
        first = by_origin.setdefault(origin, letter)
        assert (first.reason, first.original) == (letter.reason, letter.original), f"two dead letters of {origin} differ"
        assert letter.partition is not None and letter.offset is not None, f"dead letter without its origin: {letter.reason}"
    return Counter((letter.source_topic, letter.original) for letter in by_origin.values())


def version_content(warning: Warning) -> tuple:
    """What a warning version says, without the times it was written at."""
    return (warning.msg_type, warning.level, warning.region_code, warning.category, warning.sources,
            round(warning.score, 6), tuple(s.signal_id for s in warning.signals))


def significant_incidents(warnings: Iterable[Warning]) -> Counter[tuple[str, str, str]]:
    """Standing warnings of level Ⅲ or above, counted by (level, region, category).

    This is what a fault must neither lose nor duplicate. Warning ids and which street a weak
    (level Ⅳ) signal is attributed to depend on which signal reaches the grader first, and a
    worker catching up on a backlog reads the three raw topics at different paces, so those are
    compared only where arrival order is the same (`ids_and_places`).
    """
    return Counter(
        (w.level.value, w.region_code, w.category)
        for w in warnings
        if w.level.rank >= 2 and w.msg_type.value != "Cancel"
    )


def ids_and_places(warnings: dict[str, Warning]) -> dict[str, tuple]:
    """{warning id: (level, region, category)}: equal to the replay's only when arrival order is."""
    return {wid: (w.level, w.region_code, w.category) for wid, w in warnings.items()}

"""State follows partitions: a worker SIGKILLed mid-catch-up hands its partitions over warm.

A scenario is produced all at once and without keys; two workers share its partitions and catch up on them,
snapshotting each partition's state to the store (every second here) and committing only the
offsets those snapshots cover. One worker is SIGKILLed while the backlog is still being worked
through, after it has snapshotted at least one partition it took over. The survivor takes its
partitions, restores their snapshots (warm detectors, not warming up again), and finishes.
Then: no event is lost, the significant warnings are the offline replay's, no incident is
raised under two ids, and the store holds what was published.
"""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import load_city_config
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, Event, Warning
from riskwatch.contracts import topics as T
from riskwatch.detectors.base import warming_detectors
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import FILE_NAMES, Outgoing, encode, write_files
from riskwatch.streams.admin import create_topics
from riskwatch.streams.partition_state import DetectCodec
from riskwatch.streams.pipeline import DetectStage
from riskwatch.streams.replay import replay
from riskwatch.tools.devservices.kafka import KafkaBroker
from tests.databases import fresh_database
from tests.fault_support import (
    WorkerProcess,
    await_condition,
    dead_lettered_records,
    group_lag,
    offline_outcome,
    produce,
    read_to_end,
    significant_incidents,
)

pytestmark = pytest.mark.integration

SCENARIO = "gas_leak"
CONFIG = load_city_config()
#: Detectors that need a warm-up: a fresh stage reports them warming up.
WARMING_WHEN_FRESH = frozenset(warming_detectors(DetectStage(CONFIG).detectors))
PARTITIONS = 4
RESTORED = re.compile(
    r"detect state of riskwatch\.events\[(\d+)\] restored from the snapshot at offset (\d+) .*?"
    r"restored ([^;]*); fresh: ([^;]*); still warming up: (.*)$"
)
OPENED = re.compile(r"detect state of riskwatch\.events\[(\d+)\] (?:restored from the snapshot at offset (\d+)|starts fresh)")


@dataclass
class Handover:
    """What a run with one worker killed mid-catch-up sent, published and stored."""

    sent: list[Outgoing]
    events: list[Event]
    dead_letters: list[DeadLetter]
    published: dict[str, Warning]
    stored: dict[str, int]
    replayed: dict[str, Warning]
    killed_partitions: set[int]
    lag_at_kill: int
    snapshots_at_kill: dict[int, int]
    survivor: WorkerProcess
    killed: WorkerProcess


def _latest(warnings: list[Warning]) -> dict[str, Warning]:
    latest: dict[str, Warning] = {}
    for warning in warnings:
        if warning.warning_id not in latest or warning.version >= latest[warning.warning_id].version:
            latest[warning.warning_id] = warning
    return latest


def _opened(worker: WorkerProcess) -> dict[int, int]:
    """Partitions of the events topic whose detect state the worker opened, and the offset
    each began from (0: fresh)."""
    text = worker.log_path.read_text(errors="replace") if worker.log_path.exists() else ""
    return {int(m.group(1)): int(m.group(2) or 0) for m in OPENED.finditer(text)}


def _detect_snapshots(database_url: str, group: str) -> dict[int, int]:
    store = WarningStore(database_url)
    try:
        return store.partition_snapshots.offsets(group, "detect")
    finally:
        store.close()


def _warm_in_snapshot(database_url: str, group: str, partition: int) -> set[str]:
    """Detectors that need a warm-up and are past it in the partition's stored snapshot."""
    store = WarningStore(database_url)
    try:
        snapshot = store.partition_snapshots.get(group, "detect", partition)
    finally:
        store.close()
    if snapshot is None:
        return set()
    stage = DetectStage(CONFIG)
    DetectCodec().load(stage, pickle.loads(snapshot.blob))
    return WARMING_WHEN_FRESH - set(warming_detectors(stage.detectors))


def _run(postgres_url: str, workdir: Path) -> Iterator[Handover]:
    scenario = load_scenario(SCENARIO)
    # Produced without keys, as an operator's client may: a device's readings land on every partition.
    items = [dataclasses.replace(item, key=None) for item in encode(simulate(scenario))]
    write_files(scenario, workdir / "raw")
    replayed = _latest(replay(CONFIG, [str(workdir / "raw" / n) for n in FILE_NAMES.values()]).warnings)
    with KafkaBroker() as kafka, fresh_database(postgres_url, "riskwatch_handover") as database_url:
        settings = Settings(broker=kafka.bootstrap, database_url=database_url, data_dir=workdir / "data0",
                            app_id="riskwatch-handover", partitions=PARTITIONS, snapshot_every_s=1.0)
        create_topics(kafka.bootstrap, PARTITIONS, 1, settings)
        asyncio.run(produce(kafka.bootstrap, items))
        survivor, killed = (
            WorkerProcess(settings.model_copy(update={"data_dir": workdir / f"data{n}"}), workdir / f"worker{n}.log")
            for n in range(2)
        )
        try:
            survivor.start()
            killed.start()

            def killed_has_snapshotted() -> bool:
                """A partition the second worker opened has a snapshot, past where it began there,
                in which a detector is past its warm-up."""
                began = _opened(killed)
                saved = _detect_snapshots(database_url, settings.app_id)
                return any(saved.get(p, 0) > offset and _warm_in_snapshot(database_url, settings.app_id, p)
                           for p, offset in began.items())

            await_condition(lambda: not killed.alive or killed_has_snapshotted(), 120,
                            "the second worker to snapshot a partition it took over with a detector warm", poll_s=0.5)
            lag_at_kill = group_lag(kafka.bootstrap, settings)
            snapshots_at_kill = _detect_snapshots(database_url, settings.app_id)
            killed_partitions = set(_opened(killed))
            killed.kill()
            await_condition(lambda: not survivor.alive or group_lag(kafka.bootstrap, settings) == 0, 300,
                            "the surviving worker to take over and catch up")
            assert survivor.alive, survivor.log_tail()
            outputs = asyncio.run(read_to_end(kafka.bootstrap, [T.EVENTS.name, T.WARNINGS.name, T.DEADLETTER.name]))
        finally:
            survivor.stop()
            killed.stop()
        store = WarningStore(database_url)
        try:
            stored = {w.warning_id: w.version for w in store.warnings.list(limit=100_000)}
        finally:
            store.close()
    yield Handover(
        sent=items,
        events=[Event.model_validate_json(v) for v in outputs[T.EVENTS.name]],
        dead_letters=[DeadLetter.model_validate_json(v) for v in outputs[T.DEADLETTER.name]],
        published=_latest([Warning.model_validate_json(v) for v in outputs[T.WARNINGS.name]]),
        stored=stored,
        replayed=replayed,
        killed_partitions=killed_partitions,
        lag_at_kill=lag_at_kill,
        snapshots_at_kill=snapshots_at_kill,
        survivor=survivor,
        killed=killed,
    )


@pytest.fixture(scope="module")
def handover(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handover]:
    yield from _run(postgres_url, tmp_path_factory.mktemp("handover"))


def test_a_worker_was_killed_mid_catch_up(handover: Handover) -> None:
    assert handover.killed.process is not None and handover.killed.process.returncode == -9
    assert handover.lag_at_kill > 0, "the backlog was already done when the worker was killed"
    assert handover.killed_partitions, handover.killed.log_tail()


def test_the_survivor_restored_a_warm_detector_for_a_moved_partition(handover: Handover) -> None:
    text = handover.survivor.log_path.read_text(errors="replace")
    restored = {int(m.group(1)): m for m in (RESTORED.search(line) for line in text.splitlines()) if m}
    moved = {p: m for p, m in restored.items() if p in handover.killed_partitions and p in handover.snapshots_at_kill}
    assert moved, f"no partition of the killed worker restored warm:\n{handover.survivor.log_tail(80)}"
    for partition, match in moved.items():
        assert int(match.group(2)) >= handover.snapshots_at_kill[partition] > 0
        restored_names = {name.strip() for name in match.group(3).split(",")}
        warming = {name.strip() for name in match.group(5).split(",")} - {"none"}
        warm = (WARMING_WHEN_FRESH & restored_names) - warming
        assert warm, f"partition {partition}: no restored detector is past its warm-up ({match.group(0)})"


def test_no_event_is_lost(handover: Handover) -> None:
    expected, _ = offline_outcome(handover.sent)
    missing = expected - {e.event_id for e in handover.events}
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"


def test_no_valid_record_is_dead_lettered(handover: Handover) -> None:
    _, expected_dead = offline_outcome(handover.sent)
    reasons = Counter(letter.reason for letter in handover.dead_letters)
    assert reasons["late"] == 0, f"{reasons['late']} records dead-lettered as late"
    assert dead_lettered_records(handover.dead_letters) == expected_dead, dict(reasons)


def test_significant_warnings_are_the_replays(handover: Handover) -> None:
    assert significant_incidents(handover.replayed.values()), "the scenario raises no significant warning"
    assert significant_incidents(handover.published.values()) == significant_incidents(handover.replayed.values())


def test_no_incident_is_raised_under_two_ids(handover: Handover) -> None:
    standing = Counter((w.region_code, w.category) for w in handover.published.values() if w.msg_type.value != "Cancel")
    replayed = Counter((w.region_code, w.category) for w in handover.replayed.values() if w.msg_type.value != "Cancel")
    assert standing == replayed


def test_the_store_holds_every_published_warning(handover: Handover) -> None:
    assert handover.stored == {wid: w.version for wid, w in handover.published.items()}

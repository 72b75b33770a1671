"""State per partition, snapshotted to the store: a partition moved to another worker resumes
exactly where its last snapshot ends, and nothing is committed before its snapshot is written."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskwatch.alerts.grading.grader import Grader
from riskwatch.alerts.store.partition_snapshots import PartitionSnapshot
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import load_city_config
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Event, Signal
from riskwatch.detectors.registry import Watched
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import encode
from riskwatch.streams.partition_state import DetectCodec, GraderCodec, PartitionStates
from riskwatch.streams.pipeline import DetectStage, NormalizeStage

CONFIG = load_city_config()
REGIONS = RegionIndex(CONFIG.regions)
TOPIC = "riskwatch.events"


@pytest.fixture(scope="module")
def events() -> list[Event]:
    normalize = NormalizeStage(CONFIG, REGIONS)
    out: list[Event] = []
    for item in encode(simulate(load_scenario("water_main_burst", CONFIG), CONFIG)):
        event = normalize(item.source, item.value)
        assert isinstance(event, Event)
        out.append(event)
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WarningStore]:
    store = WarningStore(f"sqlite:///{tmp_path / 'store.db'}")
    store.migrate()
    yield store
    store.close()


def detect_states(store: WarningStore, clock: list[float] | None = None) -> PartitionStates[DetectStage]:
    now = clock if clock is not None else [0.0]
    return PartitionStates(stage="detect", topic=TOPIC, group_id="g", build=lambda p: DetectStage(CONFIG),
                           codec=DetectCodec(), snapshots=store.partition_snapshots, every_s=30.0, clock=lambda: now[0])


async def feed(states: PartitionStates[DetectStage], events: list[Event], start: int, partition: int = 0) -> list[Signal]:
    """Feed `events` as offsets `start`, `start + 1`, ... of `partition`, as the detect agent does."""
    signals: list[Signal] = []
    for offset, event in enumerate(events, start):
        stage = await states.for_record(partition, offset)
        if stage is not None:
            produced, dead = stage(event)
            assert dead is None
            signals.extend(produced)
        states.processed(partition, offset)
    return signals


async def nothing() -> None:
    """A producer with nothing to flush."""


def test_a_partition_resumes_in_another_worker_as_if_never_moved(events: list[Event], store: WarningStore) -> None:
    async def scenario() -> tuple[list[Signal], list[Signal], list[Signal]]:
        whole = await feed(detect_states(store.__class__(store.url)), events, 0, partition=1)
        cut = len(events) * 2 // 3
        first = detect_states(store)
        before = await feed(first, events[:cut], 0)
        commits: list[PartitionSnapshot] = []

        async def commit(snapshot: PartitionSnapshot) -> None:
            commits.append(snapshot)

        saved = await first.checkpoint(0, nothing, commit)
        assert saved is not None and saved.offset == cut and commits == [saved]
        # The next owner re-reads from the committed offset minus some (a rebalance's seek):
        second = detect_states(store)
        after = await feed(second, events[cut - 100 :], cut - 100)
        restore = second.restores[0]
        assert restore.offset == cut and restore.fresh == {}
        assert set(restore.restored) == {"gate", *(d.name for d in DetectStage(CONFIG).detectors if isinstance(d, Watched))}
        return whole, before, after

    whole, before, after = asyncio.run(scenario())
    assert [s.model_dump() for s in before + after] == [s.model_dump() for s in whole]


def test_a_partition_without_a_snapshot_starts_fresh(events: list[Event], store: WarningStore) -> None:
    states = detect_states(store)
    asyncio.run(feed(states, events[:10], 0, partition=3))
    assert states.restores[3].offset is None
    assert states.restores[3].fresh == {"detect": "no snapshot"}


def test_records_the_state_has_seen_are_skipped(events: list[Event], store: WarningStore) -> None:
    states = detect_states(store)

    async def scenario() -> tuple[DetectStage | None, DetectStage | None]:
        await feed(states, events[:50], 0)
        return await states.for_record(0, 49), await states.for_record(0, 50)

    seen, new = asyncio.run(scenario())
    assert seen is None and new is not None


def test_nothing_is_committed_when_the_snapshot_cannot_be_written(events: list[Event], store: WarningStore) -> None:
    clock = [0.0]
    states = detect_states(store, clock)
    commits: list[PartitionSnapshot] = []

    async def commit(snapshot: PartitionSnapshot) -> None:
        commits.append(snapshot)

    async def scenario() -> PartitionSnapshot | None:
        await feed(states, events[:50], 0)
        store.engine.dispose()
        Path(str(store.url.database)).unlink()
        Path(str(store.url.database)).mkdir()  # the file is now a directory: every write fails
        clock[0] = 31.0
        assert states.due(0)
        return await states.checkpoint(0, nothing, commit)

    assert asyncio.run(scenario()) is None
    assert commits == []
    assert not states.due(0)  # the next try waits a full interval, not the next record


def test_an_older_checkpoint_never_lands_after_a_newer_one(events: list[Event], store: WarningStore) -> None:
    states = detect_states(store)

    async def scenario() -> None:
        await feed(states, events[:50], 0)
        gate = asyncio.Event()

        async def slow_flush() -> None:
            await gate.wait()

        older = asyncio.create_task(states.checkpoint(0, slow_flush))
        await asyncio.sleep(0)
        await feed(states, events[50:60], 50)
        newer = asyncio.create_task(states.checkpoint(0, nothing))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(older, newer)

    asyncio.run(scenario())
    assert store.partition_snapshots.offsets("g", "detect") == {0: 60}


def test_a_revoked_partition_is_forgotten(events: list[Event], store: WarningStore) -> None:
    states = detect_states(store)
    asyncio.run(feed(states, events[:5], 0, partition=0))
    asyncio.run(feed(states, events[5:10], 0, partition=1))
    assert states.keep_only({1}) == [0]
    assert states.partitions == [1]


def test_due_only_with_unsaved_records_after_the_interval(events: list[Event], store: WarningStore) -> None:
    clock = [0.0]
    states = detect_states(store, clock)
    asyncio.run(feed(states, events[:5], 0))
    assert not states.due(0)
    clock[0] = 31.0
    assert states.due_partitions() == [0]
    asyncio.run(states.checkpoint(0, nothing))
    clock[0] = 100.0
    assert not states.due(0)  # nothing new since


def test_re_sent_events_and_signals_raise_nothing_twice(events: list[Event]) -> None:
    """Re-processing what a snapshot already covers is harmless: the gate drops the re-sent
    event ids and the grader the repeated signal ids."""
    stage = DetectStage(CONFIG)
    grader = Grader(CONFIG, REGIONS, silences=list)
    signals = [s for e in events for s in stage(e)[0]]
    warnings = [w for s in signals for w in grader.process(s)]
    assert signals and warnings
    assert [s for e in events[-500:] for s in stage(e)[0]] == []
    assert [w for s in signals for w in grader.process(s)] == []


def test_grader_state_round_trips(events: list[Event], store: WarningStore) -> None:
    stage, grader = DetectStage(CONFIG), Grader(CONFIG, REGIONS, silences=list)
    for event in events:
        for signal in stage(event)[0]:
            grader.process(signal)
    restored = Grader(CONFIG, REGIONS, silences=list)
    GraderCodec().load(restored, pickle.loads(pickle.dumps(GraderCodec().dump(grader))))
    assert restored.get_state() == grader.get_state()


def test_a_partition_is_not_snapshotted_in_the_middle_of_a_record(events: list[Event], store: WarningStore) -> None:
    """A timer's checkpoint between a record's state change and its sends would cover outputs
    that may never be written; it waits for the record to be processed."""
    clock = [0.0]
    states = detect_states(store, clock)

    async def scenario() -> tuple[PartitionSnapshot | None, list[int], PartitionSnapshot | None]:
        await feed(states, events[:20], 0)
        stage = await states.for_record(0, 20)
        assert stage is not None
        stage(events[20])  # handled, its signals not yet sent
        clock[0] = 31.0
        during = await states.checkpoint(0, nothing)
        due = states.due_partitions()
        states.processed(0, 20)
        return during, due, await states.checkpoint(0, nothing)

    during, due, after = asyncio.run(scenario())
    assert during is None and due == []
    assert after is not None and after.offset == 21


def test_a_partition_read_from_its_first_record_opens_fresh_while_the_store_is_away(
    events: list[Event], store: WarningStore
) -> None:
    """A fresh state that reads a partition from its first retained record sees its whole
    history, so it need not wait for the store to say whether a snapshot exists."""

    async def earliest(partition: int) -> int:
        return 0

    states: PartitionStates[DetectStage] = PartitionStates(
        stage="detect", topic=TOPIC, group_id="g", build=lambda p: DetectStage(CONFIG), codec=DetectCodec(),
        snapshots=store.partition_snapshots, every_s=30.0, earliest=earliest,
    )
    store.engine.dispose()
    Path(str(store.url.database)).unlink()
    Path(str(store.url.database)).mkdir()  # every read fails
    assert asyncio.run(states.for_record(2, 0)) is not None
    assert states.restores[2].offset is None
    assert "snapshot unreadable now" in states.restores[2].fresh["detect"]

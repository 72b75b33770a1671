"""No loss under faults, on a real Kafka broker, a real PostgreSQL store and real worker processes.

A scenario with upstream faults (corrupted sends, re-sends) plus a corpus of nasty records is
fed to the raw topics. A first worker drains the start of it and stops cleanly (leaving a state
snapshot of every partition it read in the store); a second one, restored from those snapshots,
is SIGKILLed while it is working through more; a third worker of the same group takes over, and
the rest is sent to it. Then: no committed offset of the events and signals topics was ahead of
its partition's snapshot, the third worker restored each partition where its snapshot ends,
every raw record is on the events topic or the dead-letter topic (duplicates allowed, loss
not), every malformed record is dead-lettered with a reason, the store's warnings are the
offline replay's, and no warning version was published twice with different content.

The rest is sent after the restart, as it would arrive live: a worker that finds hours of the
three raw topics waiting reads them at different paces, and the grader opens an incident on
whichever source's signal comes first, so a backlog alone can change a warning's id (a matter
of arrival order, not of lost state).

A broker crash and restart mid-stream is tested in test_broker_restart.py.
"""

from __future__ import annotations

import asyncio
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
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import FILE_NAMES, Outgoing, encode, write_files
from riskwatch.streams.admin import create_topics
from riskwatch.streams.replay import replay
from riskwatch.tools.devservices.kafka import KafkaBroker
from tests.databases import fresh_database
from tests.fault_support import (
    WorkerProcess,
    await_condition,
    end_offsets,
    group_committed,
    group_lag,
    ids_and_places,
    offline_outcome,
    produce,
    read_to_end,
    significant_incidents,
    version_content,
)
from tests.malformed_corpus import nasty_records

pytestmark = pytest.mark.integration

#: Next offset to process, by topic and partition.
TopicOffsets = dict[str, dict[int, int]]

SCENARIO = "gas_leak"  # ten hours with a level-I incident, ~0.5 % corrupted sends and ~1 % re-sends
PARTITIONS = 3
#: Part of the input the first worker drains before its clean stop (and final snapshot).
SNAPSHOT_PART = 0.1
#: Part of the input sent before the kill; the rest only reaches the restarted worker.
FIRST_PART = 0.6
#: The worker is killed once this share of the input is on the events topic.
KILL_AT = 0.25
#: Garbage on the internal topics, and the dead-letter reason each must get.
INTERNAL_GARBAGE = {
    T.EVENTS.name: (b'{"event_id": 42}', "detect_error"),
    T.SIGNALS.name: (b"\x00\x01 not a signal", "grade_error"),
    T.WARNINGS.name: (b"[]", "store_error"),
    T.FEEDBACK.name: (b'{"warning_id": null}', "feedback_error"),
}
RAW_NAMES = frozenset(spec.name for spec in T.RAW_TOPICS.values())
OUTPUTS = [T.EVENTS.name, T.WARNINGS.name, T.DEADLETTER.name]
STATEFUL = [T.EVENTS.name, T.SIGNALS.name]
RESTORED = re.compile(r"\w+ state of (\S+)\[(\d+)\] restored from the snapshot at offset (\d+) ")


@dataclass
class FaultRun:
    """What a kill-and-restart run sent, saw and stored."""

    raw: list[Outgoing]
    files: Path
    outputs: dict[str, list[bytes]]
    events_at_kill: int
    lag_at_kill: int
    committed_at_kill: dict[tuple[str, int], int]
    snapshot_at_kill: TopicOffsets
    database_url: str
    workers: list[WorkerProcess]

    @property
    def killed(self) -> WorkerProcess:
        return self.workers[1]

    @property
    def restarted(self) -> WorkerProcess:
        return self.workers[2]


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A broker of this module's own, so topics hold only this module's records."""
    with KafkaBroker() as kafka:
        yield kafka.bootstrap


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the workers' store."""
    with fresh_database(postgres_url, "riskwatch_faults") as url:
        yield url


def _nasty_items() -> list[Outgoing]:
    """The malformed corpus of every source, as sends to its raw topic."""
    scenario_start = load_scenario(SCENARIO).start
    return [
        Outgoing(T.RAW_TOPICS[source].name, None, value, source, scenario_start, scenario_start, "malformed", False, "corpus")
        for source in T.RAW_TOPICS
        for value in nasty_records(source, huge_len=50_000)
    ]


@pytest.fixture(scope="module")
def killed_run(broker: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRun]:
    """Drain a start and stop cleanly, feed more, SIGKILL the worker mid-stream, restart, feed
    the rest, drain."""
    workdir = tmp_path_factory.mktemp("faults")
    settings = Settings(broker=broker, database_url=database_url, data_dir=workdir / "data", app_id="riskwatch-faults",
                        snapshot_every_s=2.0,
                        partitions=PARTITIONS)
    create_topics(broker, settings.partitions, 1, settings)
    scenario = load_scenario(SCENARIO)
    files = workdir / "raw"
    write_files(scenario, files)
    items = encode(simulate(scenario))
    start, split = int(len(items) * SNAPSHOT_PART), int(len(items) * FIRST_PART)
    first, second, rest = [*_nasty_items(), *items[:start]], items[start:split], items[split:]
    workers = [WorkerProcess(settings, workdir / f"worker{n}.log") for n in range(3)]
    try:
        workers[0].start()
        asyncio.run(produce(broker, first))
        await_condition(lambda: group_lag(broker, settings) == 0, 120, "the first worker to drain the start")
        workers[0].stop()  # a clean stop: a final snapshot, with the offsets it covers
        workers[1].start()
        asyncio.run(produce(broker, second))
        await_condition(lambda: end_offsets(broker, settings, [T.EVENTS.name])[T.EVENTS.name] >= len(items) * KILL_AT,
                        120, f"{KILL_AT:.0%} of the input on the events topic")
        workers[1].kill()
        events_at_kill = end_offsets(broker, settings, [T.EVENTS.name])[T.EVENTS.name]
        lag_at_kill = group_lag(broker, settings)
        committed_at_kill = {(tp.topic, tp.partition): n for tp, n in group_committed(broker, settings, STATEFUL).items()}
        snapshot_at_kill = _snapshot_offsets(database_url, settings.app_id)
        workers[2].start()
        asyncio.run(produce(broker, rest))
        asyncio.run(_send_internal_garbage(broker))
        await_condition(lambda: not workers[2].alive or group_lag(broker, settings) == 0, 180, "the restarted worker to drain")
        assert workers[2].alive, f"the restarted worker exited:\n{workers[2].log_tail()}"
        outputs = asyncio.run(read_to_end(broker, OUTPUTS))
        yield FaultRun([*first, *second, *rest], files, outputs, events_at_kill, lag_at_kill, committed_at_kill,
                       snapshot_at_kill, database_url, workers)
    finally:
        for worker in workers:
            worker.stop()


def _snapshot_offsets(database_url: str, group: str) -> TopicOffsets:
    """Where each partition's snapshot in the store ends, by topic."""
    store = WarningStore(database_url)
    try:
        return {T.EVENTS.name: store.partition_snapshots.offsets(group, "detect"),
                T.SIGNALS.name: store.partition_snapshots.offsets(group, "grade")}
    finally:
        store.close()


async def _send_internal_garbage(bootstrap: str) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, (value, _) in INTERNAL_GARBAGE.items():
            await producer.send_and_wait(topic, value, key=b"garbage")
    finally:
        await producer.stop()


def _events(run: FaultRun) -> list[Event]:
    garbage = {value for value, _ in INTERNAL_GARBAGE.values()}
    return [Event.model_validate_json(v) for v in run.outputs[T.EVENTS.name] if v not in garbage]


def _letters(run: FaultRun) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(v) for v in run.outputs[T.DEADLETTER.name]]


def _warnings(run: FaultRun) -> list[Warning]:
    garbage = {value for value, _ in INTERNAL_GARBAGE.values()}
    return [Warning.model_validate_json(v) for v in run.outputs[T.WARNINGS.name] if v not in garbage]


def _stored(run: FaultRun) -> tuple[dict[str, Warning], dict[str, list[Warning]]]:
    """Current warnings and every recorded version, from the store."""
    store = WarningStore(run.database_url)
    try:
        current = {w.warning_id: w for w in store.warnings.list(limit=100_000)}
        return current, {wid: store.warnings.versions(wid) for wid in current}
    finally:
        store.close()


def test_the_worker_was_killed_mid_stream_past_its_snapshot(killed_run: FaultRun) -> None:
    expected_ids, _ = offline_outcome(killed_run.raw)
    assert 0 < killed_run.events_at_kill < len(expected_ids)
    assert killed_run.lag_at_kill > 0  # measured before the rest was sent: the first part was not all done
    assert killed_run.workers[0].process is not None and killed_run.workers[0].process.returncode == 0
    assert killed_run.killed.process is not None and killed_run.killed.process.returncode == -9
    assert killed_run.snapshot_at_kill.get(T.EVENTS.name), "the clean stop left no snapshot of the events it covered"
    assert killed_run.snapshot_at_kill.get(T.SIGNALS.name), "the clean stop left no snapshot of the signals it covered"


def test_no_raw_record_is_lost(killed_run: FaultRun) -> None:
    expected_ids, expected_dead = offline_outcome(killed_run.raw)
    on_topic = Counter(e.event_id for e in _events(killed_run))
    missing = expected_ids - set(on_topic)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    letters = Counter((d.source_topic, d.original) for d in _letters(killed_run) if d.source_topic in RAW_NAMES)
    short = {key: n for key, n in expected_dead.items() if letters[key] < n}
    assert not short, f"{len(short)} malformed records not dead-lettered, e.g. {list(short)[:3]}"


def test_malformed_input_of_any_kind_is_dead_lettered_with_a_reason(killed_run: FaultRun) -> None:
    letters = _letters(killed_run)
    corpus = {(item.topic, item.value) for item in killed_run.raw if item.defect == "corpus"}
    by_original = {(d.source_topic, d.original): d for d in letters}
    for key in corpus:
        letter = by_original.get(key)
        assert letter is not None, f"no dead letter for {key[0]} {key[1][:60]!r}"
        assert letter.reason and letter.detail and letter.partition is not None and letter.offset is not None
    for topic, (value, reason) in INTERNAL_GARBAGE.items():
        letter = by_original.get((topic, value))
        assert letter is not None and letter.reason == reason, f"garbage on {topic}: {letter}"
    assert killed_run.restarted.alive
    assert "crashed" not in killed_run.restarted.log_path.read_text(errors="replace").lower()


def test_no_committed_offset_is_ahead_of_its_snapshot(killed_run: FaultRun) -> None:
    """The events and signals offsets are committed only once a snapshot covers them."""
    assert killed_run.committed_at_kill, "nothing of the events or signals was committed: nothing to test"
    ahead = {
        (topic, partition): (committed, killed_run.snapshot_at_kill.get(topic, {}).get(partition))
        for (topic, partition), committed in killed_run.committed_at_kill.items()
        if committed > killed_run.snapshot_at_kill.get(topic, {}).get(partition, 0)
    }
    assert not ahead, f"committed offsets ahead of the snapshot: {ahead}"


def test_the_restarted_worker_restores_each_partition_where_its_snapshot_ends(killed_run: FaultRun) -> None:
    log = killed_run.restarted.log_path.read_text(errors="replace")
    restored = {(topic, int(p)): int(offset) for topic, p, offset in RESTORED.findall(log)}
    expected = {(topic, p): offset for topic, parts in killed_run.snapshot_at_kill.items() for p, offset in parts.items()}
    assert expected, "the kill left no snapshot: nothing to test"
    assert restored == expected, f"worker log:\n{killed_run.restarted.log_tail()}"


def test_store_holds_the_replays_incidents_no_more_no_fewer(killed_run: FaultRun) -> None:
    result = replay(load_city_config(), [str(killed_run.files / name) for name in FILE_NAMES.values()])
    offline = significant_incidents(result.final_warnings().values())
    current, _ = _stored(killed_run)
    assert offline, "the scenario raised no significant warning offline: nothing to compare"
    assert significant_incidents(current.values()) == offline


@pytest.mark.xfail(
    strict=False,
    reason="arrival order: after a restart the worker catches up on three raw topics at their own "
    "paces, and an incident's id comes from the window of the first signal the grader sees",
)
def test_store_holds_the_replays_warning_ids(killed_run: FaultRun) -> None:
    result = replay(load_city_config(), [str(killed_run.files / name) for name in FILE_NAMES.values()])
    current, _ = _stored(killed_run)
    assert ids_and_places(current) == ids_and_places(result.final_warnings())


def test_every_warning_version_has_oneversion_content(killed_run: FaultRun) -> None:
    contents: dict[tuple[str, int], set[tuple]] = {}
    for warning in _warnings(killed_run):
        contents.setdefault((warning.warning_id, warning.version), set()).add(version_content(warning))
    conflicting = {key: sorted(map(str, found)) for key, found in contents.items() if len(found) > 1}
    assert not conflicting, f"versions published with different content: {conflicting}"
    current, versions = _stored(killed_run)
    for wid, stored in versions.items():
        assert [w.version for w in stored] == list(range(1, current[wid].version + 1))
        for warning in stored:
            assert {version_content(warning)} == contents[(wid, warning.version)]

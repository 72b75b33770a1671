"""No warning lost to a database outage, on a real Kafka broker, a real PostgreSQL server and a
real worker process.

A worker is fed the first half of a scenario and stores its warnings. Then its PostgreSQL
server (this module's own, not the session's) is shut down; the rest of the scenario is sent,
so warnings are graded while the store is away; the database stays down for 30 s, during
which the worker must keep running and say that its store is unavailable; then it starts again
on the same data dir and port. Once the worker has drained: the store holds every warning the
offline replay of the same input stores (latest version per id, same level) and the latest
version of every warning the worker published; nothing valid was dead-lettered, nothing with
reason `store_error`; and the worker's health snapshot records the outage.

Then the store is taken away once more with a warning waiting for it, and the worker is
stopped (SIGTERM) while it retries: it exits cleanly without committing past the warning,
and the next worker stores it once the database is back.

Beside the run, `is_transient` judges errors the real server raises: a serialization failure,
a deadlock, a connection ended by a shutdown and one refused while it is down (transient), a
duplicate key (permanent).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError

from riskwatch.alerts.store.errors import is_transient
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import load_city_config
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, Warning
from riskwatch.contracts import topics as T
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import FILE_NAMES, Outgoing, encode, write_files
from riskwatch.streams.admin import create_topics
from riskwatch.streams.replay import ReplayResult, replay
from riskwatch.streams.store_retry import read_store_status
from riskwatch.tools.devservices.kafka import KafkaBroker
from riskwatch.tools.devservices.postgres import PostgresServer, PostgresStateError, PostgresUnavailable
from tests.api_support import api_warning
from tests.fault_support import (
    WorkerProcess,
    await_condition,
    end_offsets,
    group_committed,
    group_lag,
    offline_outcome,
    produce,
    read_to_end,
)
from tests.unavailable import unavailable

pytestmark = pytest.mark.integration

SCENARIO = "water_main_burst"  # two level-IV warnings in its first half; a level-II burst and more after
PARTITIONS = 3
#: Part of the input sent while the store is up; the rest is sent once it is down.
FIRST_PART = 0.5
#: How long the database stays down: the outage itself, not a wait for something.
OUTAGE_S = 30.0
#: Generous bounds for things that normally take seconds.
DRAIN_TIMEOUT_S = 180.0
OUTPUTS = [T.WARNINGS.name, T.DEADLETTER.name]
RAW_NAMES = frozenset(spec.name for spec in T.RAW_TOPICS.values())
APP_ID = "riskwatch-store-outage"


@dataclass
class DuringOutage:
    """What was seen while the database was down."""

    seconds: float = 0.0
    polls: int = 0
    worker_alive_throughout: bool = True
    status: list[dict[str, Any]] = field(default_factory=list)

    def unavailable(self) -> list[dict[str, Any]]:
        return [s for s in self.status if s.get("available") is False]


@dataclass
class OutageRun:
    """What an outage run sent, saw and stored."""

    raw: list[Outgoing]
    files: Path
    settings: Settings
    bootstrap: str
    postgres: PostgresServer
    worker: WorkerProcess
    stored_before: int
    warnings_before: int
    warnings_at_resume: int
    during: DuringOutage
    status_after: dict[str, Any] | None
    outputs: dict[str, list[bytes]]
    transient_on_the_wire: bool


def _open_store(url: str) -> WarningStore:
    return WarningStore(url)


def _stored_warnings(url: str) -> dict[str, Warning]:
    store = _open_store(url)
    try:
        return {w.warning_id: w for w in store.warnings.list(limit=100_000)}
    finally:
        store.close()


def _latest(values: list[bytes]) -> dict[str, Warning]:
    latest: dict[str, Warning] = {}
    for warning in map(Warning.model_validate_json, values):
        if warning.warning_id not in latest or warning.version > latest[warning.warning_id].version:
            latest[warning.warning_id] = warning
    return latest


def _all_published_are_stored(bootstrap: str, url: str) -> bool:
    published = _latest(asyncio.run(read_to_end(bootstrap, [T.WARNINGS.name]))[T.WARNINGS.name])
    stored = _stored_warnings(url)
    return all(w in stored and stored[w].version >= v.version for w, v in published.items())


def _error_of(conn: Connection, sql: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught:
        conn.execute(text(sql))
    return caught.value


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """This module's own PostgreSQL server: it is shut down mid-test, so no other test may share it."""
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        unavailable(f"cannot start PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def broker() -> Iterator[KafkaBroker]:
    with KafkaBroker() as started:
        yield started


@pytest.fixture(scope="module")
def outage_run(postgres: PostgresServer, broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutageRun]:
    """Half a scenario with the store up, the rest with it down for 30 s, then drained."""
    workdir = tmp_path_factory.mktemp("store_outage")
    scenario = load_scenario(SCENARIO)
    files = workdir / "raw"
    write_files(scenario, files)
    items = encode(simulate(scenario))
    split = int(len(items) * FIRST_PART)
    first, rest = items[:split], items[split:]
    settings = Settings(broker=broker.bootstrap, database_url=postgres.url, data_dir=workdir / "data",
                        app_id=APP_ID, partitions=PARTITIONS)
    create_topics(broker.bootstrap, settings.partitions, 1, settings)
    worker = WorkerProcess(settings, workdir / "worker.log")
    try:
        worker.start()
        asyncio.run(produce(broker.bootstrap, first))
        await_condition(lambda: not worker.alive or group_lag(broker.bootstrap, settings) == 0, DRAIN_TIMEOUT_S,
                        "the worker to drain the first part")
        await_condition(lambda: not worker.alive or _all_published_are_stored(broker.bootstrap, postgres.url), 60,
                        "the first part's warnings in the store")
        stored_before = len(_stored_warnings(postgres.url))
        warnings_before = end_offsets(broker.bootstrap, settings, [T.WARNINGS.name])[T.WARNINGS.name]

        probe = create_engine(postgres.url, connect_args={"connect_timeout": 5})
        in_flight = probe.connect()
        in_flight.execute(text("SELECT 1"))
        postgres.halt()
        down_at = time.monotonic()
        ended = _error_of(in_flight, "SELECT 1")  # a connection the shutdown ended
        with pytest.raises(DBAPIError) as refused:  # a new one, refused while the server is down
            probe.connect()
        in_flight.close()
        probe.dispose()
        transient = is_transient(ended) and is_transient(refused.value)
        asyncio.run(produce(broker.bootstrap, rest))
        during = DuringOutage()
        while time.monotonic() - down_at < OUTAGE_S:  # the deliberate outage, watched as it lasts
            during.polls += 1
            during.worker_alive_throughout &= worker.alive
            if (status := read_store_status(settings.data_dir)) is not None:
                during.status.append(status)
            time.sleep(0.5)
        warnings_at_resume = end_offsets(broker.bootstrap, settings, [T.WARNINGS.name])[T.WARNINGS.name]
        during.seconds = time.monotonic() - down_at
        postgres.resume()

        def back_and_drained() -> bool:
            if not worker.alive:
                return True
            status = read_store_status(settings.data_dir)
            return bool(status and status["available"]) and group_lag(broker.bootstrap, settings) == 0

        await_condition(back_and_drained, DRAIN_TIMEOUT_S, "the worker to store what waited and drain")
        await_condition(lambda: not worker.alive or _all_published_are_stored(broker.bootstrap, postgres.url), 60,
                        "every published warning in the store")
        outputs = asyncio.run(read_to_end(broker.bootstrap, OUTPUTS))
        yield OutageRun(items, files, settings, broker.bootstrap, postgres, worker, stored_before, warnings_before,
                        warnings_at_resume, during, read_store_status(settings.data_dir), outputs, transient)
    finally:
        worker.stop()


def test_errors_the_server_raises_are_judged_transient_or_permanent(postgres: PostgresServer) -> None:
    engine = create_engine(postgres.url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE judged (id INTEGER PRIMARY KEY, x INTEGER)"))
        conn.execute(text("INSERT INTO judged VALUES (1, 0), (2, 0)"))
    try:
        with engine.connect() as a, engine.connect() as b:
            a.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            a.execute(text("SELECT x FROM judged WHERE id = 1"))
            b.execute(text("UPDATE judged SET x = x + 1 WHERE id = 1"))
            b.commit()
            serialization = _error_of(a, "UPDATE judged SET x = 5 WHERE id = 1")
            a.rollback()

            deadlocks: list[BaseException] = []
            a.execute(text("UPDATE judged SET x = 1 WHERE id = 1"))
            b.execute(text("UPDATE judged SET x = 1 WHERE id = 2"))

            def cross(conn: Connection, row: int) -> None:
                try:
                    conn.execute(text(f"UPDATE judged SET x = 2 WHERE id = {row}"))
                except DBAPIError as exc:
                    deadlocks.append(exc)
                    conn.rollback()

            blocked = threading.Thread(target=cross, args=(a, 2))
            blocked.start()
            cross(b, 1)  # the server detects the cycle after deadlock_timeout and ends one of the two
            blocked.join(timeout=60)
            a.rollback()
            b.rollback()
            duplicate = _error_of(a, "INSERT INTO judged VALUES (1, 0)")
            a.rollback()
    finally:
        engine.dispose()
    assert getattr(serialization.orig, "sqlstate", None) == "40001" and is_transient(serialization)
    assert [getattr(e, "orig", None) and e.orig.sqlstate for e in deadlocks] == ["40P01"]  # type: ignore[union-attr]
    assert is_transient(deadlocks[0])
    assert getattr(duplicate.orig, "sqlstate", None) == "23505" and not is_transient(duplicate)


@pytest.fixture(scope="module")
def replayed(outage_run: OutageRun) -> ReplayResult:
    return replay(load_city_config(), [str(outage_run.files / name) for name in FILE_NAMES.values()])


def test_warnings_were_graded_while_the_store_was_down(outage_run: OutageRun) -> None:
    assert outage_run.stored_before > 0, "no warning was stored before the outage"
    assert outage_run.warnings_at_resume > outage_run.warnings_before, "no warning was published during the outage"
    assert outage_run.transient_on_the_wire, "an error of the halted server is not classified transient"


def test_the_worker_lived_through_the_outage_and_said_so(outage_run: OutageRun) -> None:
    during = outage_run.during
    assert during.seconds >= OUTAGE_S and during.polls > 10
    assert during.worker_alive_throughout and outage_run.worker.alive, outage_run.worker.log_tail()
    down = during.unavailable()
    assert down, f"the status file never said unavailable: {during.status[-1:]}"
    assert max(s["retries"] for s in down) > 0, "the held warning was not retried"
    assert any(w.startswith("store: riskwatch.warnings[") for s in down for w in s["waiting"]), "no warning was held"
    assert all(s["last_error"] for s in down)
    log = outage_run.worker.log_path.read_text(errors="replace")
    assert log.count("store unavailable (") == 1, "the outage's start is logged once, not every retry"
    assert log.count("store available again") == 1
    assert "crashed" not in log.lower(), outage_run.worker.log_tail()


def test_the_store_holds_every_warning_the_replay_stores_with_its_level(outage_run: OutageRun, replayed: ReplayResult) -> None:
    offline = replayed.final_warnings()
    stored = _stored_warnings(outage_run.settings.database_url)
    assert len(offline) > outage_run.stored_before, "the replay has no warning from after the outage began"
    missing = sorted(set(offline) - set(stored))
    assert not missing, f"{len(missing)} warnings lost: {[(offline[w].level.value, offline[w].title) for w in missing]}"
    levels = {w: (offline[w].level, stored[w].level) for w in offline if stored[w].level is not offline[w].level}
    assert not levels, f"stored with another level: {levels}"


def test_the_store_holds_the_latest_version_the_worker_published(outage_run: OutageRun) -> None:
    published = _latest(outage_run.outputs[T.WARNINGS.name])
    stored = _stored_warnings(outage_run.settings.database_url)
    wrong = {w: (v.version, stored[w].version if w in stored else None) for w, v in published.items()
             if w not in stored or stored[w].version != v.version}
    assert published and not wrong, f"published vs stored versions: {wrong}"


def test_nothing_valid_was_dead_lettered(outage_run: OutageRun) -> None:
    letters = [DeadLetter.model_validate_json(v) for v in outage_run.outputs[T.DEADLETTER.name]]
    reasons = Counter(d.reason for d in letters)
    assert reasons["store_error"] == 0, reasons
    assert not [d for d in letters if d.source_topic in (T.WARNINGS.name, T.FEEDBACK.name)], reasons
    _, expected_dead = offline_outcome(outage_run.raw)
    from_raw = Counter((d.source_topic, d.original) for d in letters if d.source_topic in RAW_NAMES)
    assert from_raw == expected_dead, "raw dead letters differ from what the offline normalizer refuses"


def test_the_health_snapshot_records_the_outage(outage_run: OutageRun) -> None:
    store = _open_store(outage_run.settings.database_url)
    try:
        snapshots = {c: s for c, s in store.health.latest().items() if c.startswith(f"worker:{APP_ID}:")}
    finally:
        store.close()
    assert len(snapshots) == 1, list(snapshots)
    [snapshot] = snapshots.values()
    health = snapshot.payload["store"]
    assert health["available"] is True and health["outages"] >= 1
    outage = health["last_outage"]
    assert outage is not None and outage["until"] is not None and outage["retries"] > 0 and outage["seconds"] > 0
    after = outage_run.status_after
    assert after is not None and after["available"] is True and after["last_outage"]["retries"] > 0


# Last in this module: it stops the worker.


def test_a_worker_stopped_while_retrying_exits_cleanly_and_the_next_one_stores_the_warning(
    outage_run: OutageRun, tmp_path: Path
) -> None:
    settings, postgres, worker = outage_run.settings, outage_run.postgres, outage_run.worker
    with pytest.raises(PostgresStateError):
        postgres.resume()  # it is running
    held = api_warning(warning_id="w-outage-held", title="存储中断期间的预警")
    postgres.halt()
    try:
        async def send() -> tuple[int, int]:
            producer = AIOKafkaProducer(bootstrap_servers=outage_run.bootstrap, acks="all")
            await producer.start()
            try:
                sent = await producer.send_and_wait(T.WARNINGS.name, held.model_dump_json().encode(), key=held.warning_id.encode())
                return sent.partition, sent.offset
            finally:
                await producer.stop()

        partition, offset = asyncio.run(send())
        where = f"store: {T.WARNINGS.name}[{partition}]@{offset}"

        def holding() -> bool:
            status = read_store_status(settings.data_dir)
            return not worker.alive or bool(status and where in status["waiting"])

        await_condition(holding, 60, "the worker to hold the warning")
        assert worker.alive, worker.log_tail()
        assert worker.process is not None
        worker.process.terminate()
        assert worker.process.wait(timeout=60) == 0, worker.log_tail()
        committed = group_committed(outage_run.bootstrap, settings, [T.WARNINGS.name])
        assert committed.get(TopicPartition(T.WARNINGS.name, partition), 0) <= offset, "committed past the held warning"
        log = worker.log_path.read_text(errors="replace")
        assert "withheld" in log and "crashed" not in log.lower(), worker.log_tail()
    finally:
        postgres.resume()
    successor = WorkerProcess(settings, tmp_path / "successor.log")
    try:
        successor.start()
        await_condition(lambda: not successor.alive or "w-outage-held" in _stored_warnings(settings.database_url), 120,
                        "the next worker to store the held warning")
        assert successor.alive, successor.log_tail()
        stored = _stored_warnings(settings.database_url)["w-outage-held"]
        assert (stored.version, stored.level) == (held.version, held.level)
    finally:
        successor.stop()

"""A store outage costs no warning: the store and feedback handlers hold their record and retry it
through the real agent loop until the store takes it; only what can never be stored is
dead-lettered; a worker stopped mid-retry withholds the record; the availability state and its
status file follow the outage; `is_transient` reads real SQLite and psycopg errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError

from riskwatch.alerts.store.errors import describe, is_transient
from riskwatch.alerts.store.store import WarningStore
from riskwatch.contracts import DeadLetter, Feedback, Warning, WarningStatus
from riskwatch.streams.agent_loop import each_record
from riskwatch.streams.store_agents import feedback_handler, store_handler
from riskwatch.streams.store_retry import (
    Backoff,
    RetryStopped,
    StoreAvailability,
    StoreRetry,
    read_store_status,
    status_path,
)
from riskwatch.tools.devservices.postgres import free_port
from tests.store_contract import make_warning, save, version_rows

# --------------------------------------------------------------------------- real errors


@pytest.fixture(scope="module")
def locked_error(tmp_path_factory: pytest.TempPathFactory) -> OperationalError:
    """The OperationalError SQLAlchemy raises for a write to a SQLite file another connection has locked."""
    path = tmp_path_factory.mktemp("locked") / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(OperationalError) as caught, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:secret)"), {"secret": "张三 13800000000"})
        return caught.value
    finally:
        engine.dispose()
        holder.close()


def _raised(action: Callable[[], object], kind: type[BaseException] = Exception) -> BaseException:
    with pytest.raises(kind) as caught:
        action()
    return caught.value


def test_sqlite_database_is_locked_is_transient(locked_error: OperationalError) -> None:
    assert "database is locked" in str(locked_error.orig)
    assert is_transient(locked_error)
    assert is_transient(locked_error.orig), "the bare driver error is judged the same"


def test_sqlite_statement_and_integrity_errors_are_permanent(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))

    def run(sql: str) -> None:
        with engine.begin() as conn:
            conn.execute(text(sql))

    no_table = _raised(lambda: run("SELECT * FROM nope"), OperationalError)
    duplicate = _raised(lambda: run("INSERT INTO t VALUES (1)"), IntegrityError)
    engine.dispose()
    assert not is_transient(no_table), "a missing table will not appear by retrying"
    assert not is_transient(duplicate)


def test_psycopg_connection_refused_is_transient() -> None:
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x", connect_args={"connect_timeout": 5})
    refused = _raised(engine.connect, OperationalError)
    engine.dispose()
    assert "refused" in str(refused).lower() or "failed" in str(refused).lower()
    assert is_transient(refused)


def test_psycopg_sqlstates_decide() -> None:
    import psycopg

    def wrapped(sqlstate: str) -> DBAPIError:
        return DBAPIError.instance("UPDATE x", {}, psycopg.errors.lookup(sqlstate)("from the server"), psycopg.Error)

    for sqlstate in ("40001", "40P01", "57P01", "57P03", "08006", "53300", "25006"):
        assert is_transient(wrapped(sqlstate)), sqlstate
    for sqlstate in ("23505", "22P02", "42P01", "42601"):
        assert not is_transient(wrapped(sqlstate)), sqlstate


def test_invalidated_connections_disconnections_and_wrapped_errors_are_transient(locked_error: OperationalError) -> None:
    invalidated = DBAPIError.instance("SELECT 1", {}, ValueError("gone"), ValueError, connection_invalidated=True)
    assert is_transient(invalidated)
    assert is_transient(DisconnectionError("pre-ping failed"))
    try:
        try:
            raise locked_error
        except OperationalError as exc:
            raise RuntimeError("could not save") from exc
    except RuntimeError as outer:
        assert is_transient(outer)


def test_our_own_errors_are_permanent() -> None:
    assert not is_transient(_raised(lambda: Warning.model_validate_json(b'{"warning_id": 1}'), ValidationError))
    assert not is_transient(ValueError("the plan is for another version"))


def test_describe_names_the_driver_error_without_the_statement_or_its_parameters(locked_error: OperationalError) -> None:
    assert "张三" in str(locked_error), "SQLAlchemy's own message carries the parameters"
    described = describe(locked_error)
    assert described == "OperationalError: database is locked"


def test_backoff_doubles_from_half_a_second_up_to_fifteen() -> None:
    assert [Backoff().delay(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]


# --------------------------------------------------------------------------- handlers through the agent loop


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    acked: bool = False


@dataclass
class _Record:
    message: _Message
    value: bytes | None


class _Stream:
    def __init__(self, topic: str, values: list[bytes]) -> None:
        self.records = [_Record(_Message(topic, 0, offset), value) for offset, value in enumerate(values)]

    async def events(self) -> AsyncIterator[_Record]:
        for record in self.records:
            yield record


class FlakySave:
    """Stands in for a repository method: raises `error` `failures` times, then calls the real one."""

    def __init__(self, real: Callable[..., Any], error: BaseException, failures: int) -> None:
        self.real, self.error, self.failures, self.calls = real, error, failures, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.real(*args, **kwargs)


@dataclass
class Harness:
    """A real SQLite store, the retry with a recording sleep, and what was dead-lettered."""

    store: WarningStore
    availability: StoreAvailability
    retry: StoreRetry
    data_dir: Path
    delays: list[float] = field(default_factory=list)
    seen_while_waiting: list[dict[str, Any]] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    recovered_beats: int = 0

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    store = WarningStore(f"sqlite:///{tmp_path / 'rw.db'}")
    store.migrate()
    availability = StoreAvailability(component="worker:test", status_path=status_path(tmp_path))
    box: list[Harness] = []

    async def sleep(seconds: float) -> None:
        h = box[0]
        h.delays.append(seconds)
        h.seen_while_waiting.append({"state": availability.snapshot(), "file": read_store_status(tmp_path)})

    async def beat() -> None:
        box[0].recovered_beats += 1

    retry = StoreRetry(availability, sleep=sleep, on_recovered=beat)
    box.append(Harness(store, availability, retry, tmp_path))
    try:
        yield box[0]
    finally:
        store.close()


async def test_a_warning_is_stored_once_after_the_store_comes_back(
    harness: Harness, locked_error: OperationalError, caplog: pytest.LogCaptureFixture
) -> None:
    warning = make_warning()
    flaky = FlakySave(harness.store.warnings.save, locked_error, failures=4)
    harness.store.warnings.save = flaky  # type: ignore[method-assign]
    handler = store_handler(harness.store, harness.store.routing, harness.retry)
    stream = _Stream("riskwatch.warnings", [warning.model_dump_json().encode()])

    with caplog.at_level(logging.WARNING, logger="riskwatch.streams.store_retry"):
        await each_record(stream, "store", handler, harness.dead_letter)

    assert harness.letters == []
    assert flaky.calls == 5
    assert harness.store.warnings.get(warning.warning_id) is not None
    assert version_rows(harness.store, warning.warning_id) == 1
    assert harness.delays == [0.5, 1.0, 2.0, 4.0]
    during = harness.seen_while_waiting[-1]
    assert during["state"]["available"] is False and during["state"]["retries"] == 4
    assert during["state"]["waiting"] == ["store: riskwatch.warnings[0]@0"]
    assert during["state"]["last_error"] == "OperationalError: database is locked"
    assert during["file"] is not None and during["file"]["available"] is False, "the status file shows the outage"
    after = harness.availability.snapshot()
    assert after["available"] is True and after["waiting"] == [] and after["outages"] == 1
    assert after["last_outage"]["retries"] == 4 and after["last_outage"]["until"] is not None
    assert read_store_status(harness.data_dir)["last_outage"]["retries"] == 4  # type: ignore[index]
    assert harness.recovered_beats == 1, "the health snapshot is written as soon as the store is back"
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if m.startswith("store unavailable")]) == 1, messages
    assert len([m for m in messages if m.startswith("store available again")]) == 1, messages


async def test_records_after_the_held_one_wait_for_it(harness: Harness, locked_error: OperationalError) -> None:
    first, second = make_warning(warning_id="w-a"), make_warning(warning_id="w-b")
    order: list[str] = []
    real = harness.store.warnings.save

    def save_in_order(warning: Warning, plan: Any) -> bool:
        order.append(warning.warning_id)
        return real(warning, plan)

    harness.store.warnings.save = FlakySave(save_in_order, locked_error, failures=2)  # type: ignore[method-assign]
    handler = store_handler(harness.store, harness.store.routing, harness.retry)
    stream = _Stream("riskwatch.warnings", [w.model_dump_json().encode() for w in (first, second)])
    await each_record(stream, "store", handler, harness.dead_letter)
    assert order == ["w-a", "w-b"], "nothing moved past the held record"
    assert harness.letters == []


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"warning_id": "w-1"}', b"[]"], ids=["invalid json", "not a warning", "wrong shape"]
)
async def test_a_record_that_can_never_be_stored_is_dead_lettered_at_once(harness: Harness, raw: bytes) -> None:
    handler = store_handler(harness.store, harness.store.routing, harness.retry)
    await each_record(_Stream("riskwatch.warnings", [raw]), "store", handler, harness.dead_letter)
    assert [(d.reason, d.original) for d in harness.letters] == [("store_error", raw)]
    assert harness.delays == [] and harness.availability.available


async def test_a_permanent_store_error_is_dead_lettered_without_retrying(harness: Harness, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'dup.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(IntegrityError) as duplicate, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    flaky = FlakySave(harness.store.warnings.save, duplicate.value, failures=10)
    harness.store.warnings.save = flaky  # type: ignore[method-assign]
    handler = store_handler(harness.store, harness.store.routing, harness.retry)
    await each_record(_Stream("riskwatch.warnings", [make_warning().model_dump_json().encode()]), "store", handler, harness.dead_letter)
    assert flaky.calls == 1 and harness.delays == []
    assert [d.reason for d in harness.letters] == ["store_error"]
    assert "IntegrityError" in harness.letters[0].detail
    assert harness.availability.available and harness.availability.outages == 0


async def test_feedback_is_recorded_through_the_outage_and_told_to_the_grader_once(
    harness: Harness, locked_error: OperationalError
) -> None:
    warning = make_warning()
    save(harness.store, warning)
    feedback = Feedback(
        warning_id=warning.warning_id, action="false_alarm", from_status=WarningStatus.new,
        to_status=WarningStatus.false_alarm, actor="commander-1", role="commander", reason="误报", at=warning.updated_at,
    )
    flaky = FlakySave(harness.store.outcomes.record, locked_error, failures=3)
    harness.store.outcomes.record = flaky  # type: ignore[method-assign]
    told: list[tuple[Feedback, int]] = []

    async def tell_grader(received: Feedback) -> None:
        told.append((received, flaky.calls))

    handler = feedback_handler(harness.store, harness.retry, tell_grader)
    await each_record(_Stream("riskwatch.feedback", [feedback.model_dump_json().encode()]), "feedback", handler, harness.dead_letter)
    assert told == [(feedback, 4)], "the grader hears of it once, after the feedback is recorded"
    assert harness.letters == [] and harness.delays == [0.5, 1.0, 2.0]
    assert [p.false_alarms for p in harness.store.outcomes.detector_precision()] == [1, 1]


@pytest.mark.parametrize("how", ["retry.stop()", "task.cancel()"])
async def test_a_worker_stopped_while_retrying_withholds_the_record(tmp_path: Path, locked_error: OperationalError, how: str) -> None:
    """The worker stops its retries before Faust waits for records in hand; cancelling works too."""
    store = WarningStore(f"sqlite:///{tmp_path / 'rw.db'}")
    store.migrate()
    availability = StoreAvailability(status_path=status_path(tmp_path))
    waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.sleep(3600)  # the real wait: only stop() or cancellation ends it

    store.warnings.save = FlakySave(store.warnings.save, locked_error, failures=10**6)  # type: ignore[method-assign]
    retry = StoreRetry(availability, sleep=sleep)
    handler = store_handler(store, store.routing, retry)
    stream = _Stream("riskwatch.warnings", [make_warning().model_dump_json().encode(), make_warning(warning_id="w-2").model_dump_json().encode()])
    letters: list[DeadLetter] = []
    after: list[int] = []

    async def dead_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    async def note(message: Any) -> None:
        after.append(message.offset)

    agent = asyncio.create_task(each_record(stream, "store", handler, dead_letter, after=note))
    await asyncio.wait_for(waiting.wait(), 10)
    assert availability.waiting == {"store": "riskwatch.warnings[0]@0"}
    held = stream.records[0].message
    if how == "retry.stop()":
        retry.stop()
        async with asyncio.timeout(10):
            while not held.acked:  # the loop withholds it, then waits to be cancelled
                await asyncio.sleep(0)
        assert not agent.done(), "given back, the agent waits for the worker instead of ending (a crash to Faust)"
    agent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(agent, 10)
    assert held.acked is True, "withheld: Faust neither acknowledges nor waits for it"
    assert stream.records[1].message.acked is False
    assert letters == [] and after == [], "a stopped record is neither dead-lettered nor counted as processed"
    assert availability.waiting == {} and not availability.available
    store.close()


async def test_after_stop_a_transient_failure_ends_the_retry_at_once(harness: Harness, locked_error: OperationalError) -> None:
    harness.retry.stop()

    def fails() -> None:
        raise locked_error

    with pytest.raises(RetryStopped):
        await harness.retry.until_done("store", fails, record="riskwatch.warnings[0]@3")
    assert harness.delays == [], "no backoff wait once the worker is stopping"
    assert await harness.retry.until_done("store", lambda: "stored") == "stored", "what succeeds still succeeds"


# --------------------------------------------------------------------------- periodic jobs


async def test_periodic_jobs_note_a_transient_failure_and_skip_while_an_agent_waits(
    harness: Harness, locked_error: OperationalError
) -> None:
    def fails() -> None:
        raise locked_error

    assert await harness.retry.once("health", fails) == (False, None)
    assert not harness.availability.available and harness.availability.current is not None
    assert harness.availability.current.retries == 0 and harness.availability.current.failures == 1
    calls: list[str] = []
    harness.availability.waiting["store"] = "riskwatch.warnings[0]@7"
    assert await harness.retry.once("silences", lambda: calls.append("tried")) == (False, None)
    assert calls == [], "no attempt while an agent probes the store with backoff"
    del harness.availability.waiting["store"]
    assert await harness.retry.once("health", lambda: "written") == (True, "written")
    assert harness.availability.available and harness.recovered_beats == 1
    with pytest.raises(ValueError):
        await harness.retry.once("health", lambda: (_ for _ in ()).throw(ValueError("a bug")))


def test_no_status_file_means_no_worker_wrote_one(tmp_path: Path) -> None:
    assert read_store_status(tmp_path) is None
    availability = StoreAvailability(component="worker:x", status_path=status_path(tmp_path))
    availability.failed("store", OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")), record="r")
    written = json.loads(status_path(tmp_path).read_text(encoding="utf-8"))
    assert written["component"] == "worker:x" and written["available"] is False and written["waiting"] == ["store: r"]


def test_the_store_status_command_reads_the_workers_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from riskwatch.tools.cli import app

    def run() -> tuple[int, str]:
        result = CliRunner().invoke(app, ["store-status", "--data-dir", str(tmp_path)])
        return result.exit_code, result.output

    assert run()[0] == 2, "no worker wrote a status here"
    availability = StoreAvailability(component="worker:x", status_path=status_path(tmp_path))
    availability.write()
    code, output = run()
    assert code == 0 and json.loads(output)["component"] == "worker:x"
    availability.failed("store", OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")))
    code, output = run()
    assert code == 1 and json.loads(output)["last_error"] == "OperationalError: database is locked"

"""No loss across a broker crash, on a real Kafka broker, a real PostgreSQL store and a real worker.

A worker is fed the first part of a scenario; once part of it is on the events topic and its
first warning is out, the broker is SIGKILLed (a crash: no controlled shutdown, log recovery on the next start). While it is down
a producer starts sending the rest and has to retry until the broker is back on the same port
with the same data. Then, once the worker has drained: every raw record became an event
(duplicates allowed, loss not), every malformed one a dead letter, the store holds exactly the
offline replay's warnings, no warning version was published with two contents, and the worker
that lived through the crash is still running.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

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
    group_lag,
    ids_and_places,
    offline_outcome,
    produce,
    read_to_end,
    significant_incidents,
    version_content,
)

pytestmark = pytest.mark.integration

SCENARIO = "water_main_burst"  # a level-II incident, with corrupted sends and re-sends
PARTITIONS = 3
#: Part of the input sent before the crash; the rest is sent while the broker is down.
FIRST_PART = 0.7
#: The broker is killed once this share of the input is on the events topic (and a warning is out).
CRASH_AT = 0.2
#: How long the feeder keeps retrying a broker that does not answer.
FEED_TIMEOUT_S = 120.0
OUTPUTS = [T.EVENTS.name, T.WARNINGS.name, T.DEADLETTER.name]
RAW_NAMES = frozenset(spec.name for spec in T.RAW_TOPICS.values())


@dataclass
class Feed:
    """What a retrying feeder did: attempts it made and the errors that made it retry."""

    attempts: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class CrashRun:
    """What a broker-crash run sent, saw and stored."""

    raw: list[Outgoing]
    files: Path
    outputs: dict[str, list[bytes]]
    events_at_crash: int
    warnings_at_crash: int
    lag_at_crash: int
    feed: Feed
    database_url: str
    worker: WorkerProcess
    broker_log: str


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the worker's store."""
    with fresh_database(postgres_url, "riskwatch_broker_restart") as url:
        yield url


async def feed_until_acked(bootstrap: str, items: Sequence[Outgoing], feed: Feed, timeout_s: float = FEED_TIMEOUT_S) -> None:
    """Send `items` in order with acks=all, starting over with a new producer after any Kafka error
    (the broker may be down) from the first record not yet acknowledged, until all are.

    A retried chunk may have been partly written, so records can be duplicated, never lost or
    reordered past an unacknowledged one.
    """
    deadline = time.monotonic() + timeout_s
    acked = 0
    while acked < len(items):
        feed.attempts += 1
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, request_timeout_ms=10_000)
        try:
            await producer.start()
            while acked < len(items):
                chunk = items[acked: acked + 500]
                await asyncio.gather(*[await producer.send(i.topic, i.value, key=i.key) for i in chunk])
                acked += len(chunk)
        except KafkaError as exc:
            feed.errors.append(f"{type(exc).__name__}: {exc}")
            if time.monotonic() > deadline:
                raise AssertionError(f"broker not back after {timeout_s:.0f}s; {acked} of {len(items)} sent; "
                                     f"last errors: {feed.errors[-3:]}") from exc
            await asyncio.sleep(0.5)  # back-off before the next attempt, not a synchronisation
        finally:
            await producer.stop()


@pytest.fixture(scope="module")
def crash_run(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRun]:
    """Feed a worker half a scenario, crash the broker mid-stream, feed the rest while it comes
    back, drain."""
    workdir = tmp_path_factory.mktemp("broker_restart")
    scenario = load_scenario(SCENARIO)
    files = workdir / "raw"
    write_files(scenario, files)
    items = encode(simulate(scenario))
    split = int(len(items) * FIRST_PART)
    first, rest = items[:split], items[split:]
    feed = Feed()
    with KafkaBroker() as broker:
        settings = Settings(broker=broker.bootstrap, database_url=database_url, data_dir=workdir / "data",
                            app_id="riskwatch-broker-restart", partitions=PARTITIONS)
        create_topics(broker.bootstrap, settings.partitions, 1, settings)
        worker = WorkerProcess(settings, workdir / "worker.log")
        try:
            worker.start()
            asyncio.run(produce(broker.bootstrap, first))

            def crash_point() -> bool:
                ends = end_offsets(broker.bootstrap, settings, [T.EVENTS.name, T.WARNINGS.name])
                return ends[T.EVENTS.name] >= len(items) * CRASH_AT and ends[T.WARNINGS.name] > 0

            await_condition(crash_point, 120, f"{CRASH_AT:.0%} of the input on the events topic and a warning out")
            at_crash = end_offsets(broker.bootstrap, settings, [T.EVENTS.name, T.WARNINGS.name])
            lag_at_crash = group_lag(broker.bootstrap, settings)
            broker.halt(kill=True)
            with ThreadPoolExecutor(1) as pool:  # the feeder runs while the broker is down and coming back
                feeding = pool.submit(asyncio.run, feed_until_acked(broker.bootstrap, rest, feed))
                broker.resume()
                feeding.result(timeout=FEED_TIMEOUT_S + 30)
            await_condition(lambda: not worker.alive or group_lag(broker.bootstrap, settings) == 0, 150,
                            "the worker to drain after the broker came back")
            outputs = asyncio.run(read_to_end(broker.bootstrap, OUTPUTS))
            yield CrashRun(items, files, outputs, at_crash[T.EVENTS.name], at_crash[T.WARNINGS.name], lag_at_crash, feed, database_url, worker,
                           broker.log_path.read_text(errors="replace"))
        finally:
            worker.stop()


def test_the_broker_crashed_mid_stream_and_the_feeder_had_to_retry(crash_run: CrashRun) -> None:
    expected_ids, _ = offline_outcome(crash_run.raw)
    assert 0 < crash_run.events_at_crash < len(expected_ids)
    assert crash_run.lag_at_crash > 0, "the worker had drained before the crash: nothing was in flight"
    assert 0 < crash_run.warnings_at_crash < len(crash_run.outputs[T.WARNINGS.name]), (
        "the grader's warnings do not straddle the crash")
    assert crash_run.feed.attempts > 1 and crash_run.feed.errors, "the feeder never met the broker down"
    assert crash_run.broker_log.count("Kafka Server started") == 2, "the broker did not start twice on its data"
    assert "since no clean shutdown file was found" in crash_run.broker_log, (
        "the restarted broker did not recover from an unclean shutdown")


def test_the_worker_lived_through_the_crash(crash_run: CrashRun) -> None:
    assert crash_run.worker.alive, f"the worker exited:\n{crash_run.worker.log_tail()}"
    assert "crashed" not in crash_run.worker.log_path.read_text(errors="replace").lower(), crash_run.worker.log_tail()


def test_no_raw_record_is_lost(crash_run: CrashRun) -> None:
    expected_ids, expected_dead = offline_outcome(crash_run.raw)
    on_topic = {Event.model_validate_json(v).event_id for v in crash_run.outputs[T.EVENTS.name]}
    missing = expected_ids - on_topic
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    letters = Counter((d.source_topic, d.original) for d in map(DeadLetter.model_validate_json, crash_run.outputs[T.DEADLETTER.name])
                      if d.source_topic in RAW_NAMES)
    short = {key: n for key, n in expected_dead.items() if letters[key] < n}
    assert not short, f"{len(short)} malformed records not dead-lettered, e.g. {list(short)[:3]}"


def _compare(crash_run: CrashRun) -> tuple[dict[str, Warning], dict[str, Warning]]:
    result = replay(load_city_config(), [str(crash_run.files / name) for name in FILE_NAMES.values()])
    store = WarningStore(crash_run.database_url)
    try:
        online = {w.warning_id: w for w in store.warnings.list(limit=100_000)}
    finally:
        store.close()
    return online, result.final_warnings()


def test_store_holds_the_replays_incidents_no_more_no_fewer(crash_run: CrashRun) -> None:
    online, offline = _compare(crash_run)
    assert significant_incidents(offline.values()), "the scenario raised no significant warning offline"
    assert significant_incidents(online.values()) == significant_incidents(offline.values())


@pytest.mark.xfail(
    strict=False,
    reason="arrival order: records re-sent after the outage reach the three raw topics at their own "
    "paces, and an incident's id comes from the window of the first signal the grader sees",
)
def test_store_holds_the_replays_warning_ids(crash_run: CrashRun) -> None:
    online, offline = _compare(crash_run)
    assert ids_and_places(online) == ids_and_places(offline)


def test_no_warning_version_was_published_with_two_contents(crash_run: CrashRun) -> None:
    contents: dict[tuple[str, int], set[tuple]] = {}
    for warning in map(Warning.model_validate_json, crash_run.outputs[T.WARNINGS.name]):
        contents.setdefault((warning.warning_id, warning.version), set()).add(version_content(warning))
    conflicting = {key: sorted(map(str, found)) for key, found in contents.items() if len(found) > 1}
    assert contents and not conflicting, f"versions published with different content: {conflicting}"

"""Unkeyed raw records produced all at once, two workers catching up: nothing is "late".

An operator's producer sends raw records without keys (allowed: the topics' key is "the id, or
none"). Clients such as librdkafka then stick to one partition for a batch of records before
moving to the next, so one device's readings are spread over every partition in runs of hours.
Two workers share the partitions and catch up on them at their own paces, so a device's
readings reach detection out of event-time order. None of them was delivered late by its
source, so none may be dead-lettered as late, and the warnings must be the offline replay's.

The sends are assigned to partitions explicitly, in sticky runs, so the spread is the same on
every run. (Before lateness was judged per raw partition, 2,964 of water_main_burst's 4,785
records were dead-lettered as late here and one warning was never raised.)
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import load_city_config
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, Warning
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
    dead_lettered_records,
    group_lag,
    offline_outcome,
    read_to_end,
    significant_incidents,
)

pytestmark = pytest.mark.integration

PARTITIONS = 4
#: Records of one raw topic sent to one partition before the producer moves to the next.
STICKY_RUN = 1500
WORKERS = 2


@dataclasses.dataclass
class CatchUpRun:
    """What an unkeyed catch-up run sent, published and stored, beside the offline replay."""

    sent: list[Outgoing]
    partitions: dict[str, Counter[int]]
    dead_letters: list[DeadLetter]
    published: dict[str, Warning]
    stored: dict[str, Warning]
    replayed: dict[str, Warning]
    workers: list[WorkerProcess]


def _latest(warnings: list[Warning]) -> dict[str, Warning]:
    latest: dict[str, Warning] = {}
    for warning in warnings:
        if warning.warning_id not in latest or warning.version >= latest[warning.warning_id].version:
            latest[warning.warning_id] = warning
    return latest


async def _send_unkeyed_in_sticky_runs(bootstrap: str, items: list[Outgoing]) -> dict[str, Counter[int]]:
    """Send every record without a key, to partitions in runs of `STICKY_RUN` per topic."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    sent: dict[str, int] = Counter()
    placed: dict[str, Counter[int]] = {}
    try:
        futures = []
        for item in items:
            partition = (sent[item.topic] // STICKY_RUN) % PARTITIONS
            sent[item.topic] += 1
            placed.setdefault(item.topic, Counter())[partition] += 1
            futures.append(await producer.send(item.topic, item.value, key=None, partition=partition))
        for future in futures:
            await future
    finally:
        await producer.stop()
    return placed


def _catch_up(scenario_name: str, postgres_url: str, workdir: Path) -> CatchUpRun:
    scenario = load_scenario(scenario_name)
    items = [dataclasses.replace(item, key=None) for item in encode(simulate(scenario))]
    write_files(scenario, workdir / "raw")
    files = [str(workdir / "raw" / name) for name in FILE_NAMES.values()]
    replayed = _latest(replay(load_city_config(), files).warnings)
    with KafkaBroker() as kafka, fresh_database(postgres_url, f"riskwatch_catchup_{scenario_name}") as database_url:
        settings = Settings(broker=kafka.bootstrap, database_url=database_url, data_dir=workdir / "data0",
                            app_id="riskwatch-catchup", partitions=PARTITIONS)
        create_topics(kafka.bootstrap, PARTITIONS, 1, settings)
        placed = asyncio.run(_send_unkeyed_in_sticky_runs(kafka.bootstrap, items))
        workers = [
            WorkerProcess(settings.model_copy(update={"data_dir": workdir / f"data{n}"}), workdir / f"worker{n}.log")
            for n in range(WORKERS)
        ]
        try:
            for worker in workers:
                worker.start()
            await_condition(lambda: not all(w.alive for w in workers) or group_lag(kafka.bootstrap, settings) == 0,
                            300, "two workers to catch up on the backlog")
            assert all(w.alive for w in workers), "\n".join(w.log_tail() for w in workers)
            outputs = asyncio.run(read_to_end(kafka.bootstrap, [T.WARNINGS.name, T.DEADLETTER.name]))
        finally:
            for worker in workers:
                worker.stop()
        store = WarningStore(database_url)
        try:
            stored = {w.warning_id: w for w in store.warnings.list(limit=100_000)}
        finally:
            store.close()
    return CatchUpRun(
        sent=items,
        partitions=placed,
        dead_letters=[DeadLetter.model_validate_json(v) for v in outputs[T.DEADLETTER.name]],
        published=_latest([Warning.model_validate_json(v) for v in outputs[T.WARNINGS.name]]),
        stored=stored,
        replayed=replayed,
        workers=workers,
    )


@pytest.fixture(scope="module", params=["water_main_burst", "gas_leak"])
def catch_up(request: pytest.FixtureRequest, postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatchUpRun]:
    yield _catch_up(request.param, postgres_url, tmp_path_factory.mktemp(f"catchup-{request.param}"))


def test_each_devices_readings_were_spread_over_partitions(catch_up: CatchUpRun) -> None:
    """The premise: the sensor topic's records sit in several partitions, in runs."""
    sensor = catch_up.partitions[T.RAW_SENSOR.name]
    assert len(sensor) >= 3, sensor


def test_no_valid_record_is_dead_lettered(catch_up: CatchUpRun) -> None:
    _, expected_dead = offline_outcome(catch_up.sent)
    reasons = Counter(letter.reason for letter in catch_up.dead_letters)
    assert reasons["late"] == 0, f"{reasons['late']} records dead-lettered as late"
    got = dead_lettered_records(catch_up.dead_letters)
    assert got == expected_dead, f"dead letters by reason: {dict(reasons)}; offline: {sum(expected_dead.values())}"


def test_significant_warnings_are_the_replays(catch_up: CatchUpRun) -> None:
    assert significant_incidents(catch_up.replayed.values()), "the scenario raises no significant warning"
    assert significant_incidents(catch_up.published.values()) == significant_incidents(catch_up.replayed.values())


def test_no_incident_is_raised_under_two_ids(catch_up: CatchUpRun) -> None:
    standing = Counter(
        (w.region_code, w.category) for w in catch_up.published.values() if w.msg_type.value != "Cancel"
    )
    replayed = Counter((w.region_code, w.category) for w in catch_up.replayed.values() if w.msg_type.value != "Cancel")
    assert standing == replayed


def test_the_store_holds_every_published_warning(catch_up: CatchUpRun) -> None:
    assert {wid: w.version for wid, w in catch_up.stored.items()} == {
        wid: w.version for wid, w in catch_up.published.items()
    }

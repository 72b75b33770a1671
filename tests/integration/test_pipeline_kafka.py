"""The whole flow on a real Apache Kafka broker and a real PostgreSQL store.

simulator → raw topics → `riskwatch worker` (a real process) → warnings topic and store;
malformed records → dead-letter topic with a reason; and the offline replay of the same
input gives the same warnings as the Kafka path.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import load_city_config
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, Level, Warning
from riskwatch.contracts import topics as T
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import publish_to_kafka, write_files
from riskwatch.streams.admin import Offsets, create_topics
from riskwatch.streams.replay import replay
from riskwatch.streams.worker import ready_file, worker_env
from riskwatch.tools.devservices.kafka import KafkaBroker
from tests.databases import fresh_database
from tests.factories import T0, police

pytestmark = pytest.mark.integration

BURST_STREET = "410105002"
MALFORMED = {
    T.RAW_HOTLINE.name: b'{"order_id": "GD-broken", "content": ',
    T.RAW_SENSOR.name: b"\xff\xfe not utf-8",
    T.RAW_POLICE.name: police("JJ-far-away", T0, lon=121.47, lat=31.23),
}
EXPECTED_REASONS = {T.RAW_HOTLINE.name: "invalid_json", T.RAW_SENSOR.name: "invalid_json", T.RAW_POLICE.name: "unknown_region"}


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """A broker of this module's own, so topics hold only this module's records."""
    with KafkaBroker() as kafka:
        yield kafka.bootstrap


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the worker's store."""
    with fresh_database(postgres_url, "riskwatch_e2e") as url:
        yield url


@pytest.fixture(scope="module")
def run(broker: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Start a worker, feed it the water-main scenario plus malformed records, collect outputs."""
    workdir = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        broker=broker, database_url=database_url, data_dir=workdir / "data", app_id="riskwatch-e2e", partitions=3,
        deadline_check_every_s=0.5,
    )
    create_topics(broker, settings.partitions, 1, settings)
    scenario = load_scenario("water_main_burst")
    files = workdir / "raw"
    write_files(scenario, files)
    env = worker_env(settings)
    log = (workdir / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "riskwatch.tools", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _await(lambda: ready_file(settings).exists() or worker.poll() is not None, 120, "worker ready")
        assert worker.poll() is None, (workdir / "worker.log").read_text()
        stats = asyncio.run(publish_to_kafka(scenario, broker, speed=0))
        asyncio.run(_send_malformed(broker))
        produced = stats.sent + len(MALFORMED)
        asyncio.run(_collect(broker, produced))
        _await(lambda: _lag(broker, settings) == 0, 120, "worker drained")
        outputs = asyncio.run(_read_to_end(broker))
        yield {"outputs": outputs, "files": files, "database_url": database_url, "produced": produced, "broker": broker}
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()


def _lag(bootstrap: str, settings: Settings) -> int:
    """Records on events/signals/warnings the worker's group has not committed (exact on Apache Kafka)."""
    from kafka.admin import OffsetSpec

    offsets = Offsets(bootstrap, settings)
    try:
        tps = offsets.partitions([T.EVENTS.name, T.SIGNALS.name, T.WARNINGS.name])
        ends = offsets.admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
        committed = offsets.committed(settings.app_id)
        return sum(max(ends[tp].offset - committed.get(tp, 0), 0) for tp in tps)
    finally:
        offsets.close()


def _await(condition, timeout_s: float, what: str) -> None:
    """Poll a condition until it holds; fail with `what` when it does not in time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


async def _send_malformed(bootstrap: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, value in MALFORMED.items():
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _collect(bootstrap: str, produced: int, timeout_s: float = 180) -> dict[str, list[bytes]]:
    """Read events, warnings and dead letters until every raw record is accounted for."""
    names = [T.EVENTS.name, T.WARNINGS.name, T.DEADLETTER.name]
    consumer = AIOKafkaConsumer(*names, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, list[bytes]] = {name: [] for name in names}
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    seen[record.topic].append(record.value)
            raw_dead = [d for d in map(DeadLetter.model_validate_json, seen[T.DEADLETTER.name]) if d.source_topic in MALFORMED]
            if len(seen[T.EVENTS.name]) + len(raw_dead) >= produced and _burst_warning(seen[T.WARNINGS.name]):
                return seen
        pytest.fail(f"pipeline did not account for {produced} records in time: { {k: len(v) for k, v in seen.items()} }")
    finally:
        await consumer.stop()


async def _read_to_end(bootstrap: str) -> dict[str, list[bytes]]:
    """Everything on the output topics, up to their current end offsets."""
    names = [T.EVENTS.name, T.WARNINGS.name, T.DEADLETTER.name]
    consumer = AIOKafkaConsumer(*names, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen: dict[str, list[bytes]] = {name: [] for name in names}
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    seen[record.topic].append(record.value)
        return seen
    finally:
        await consumer.stop()


def _latest(values: list[bytes]) -> dict[str, Warning]:
    latest: dict[str, Warning] = {}
    for warning in map(Warning.model_validate_json, values):
        if warning.warning_id not in latest or warning.version > latest[warning.warning_id].version:
            latest[warning.warning_id] = warning
    return latest


def _burst_warning(values: list[bytes]) -> Warning | None:
    return next(
        (w for w in _latest(values).values() if w.region_code == BURST_STREET and w.category == "water_supply" and w.level.rank >= Level.II.rank),
        None,
    )


def test_injected_incident_raises_a_level_ii_warning_in_its_street(run: dict) -> None:
    warning = _burst_warning(run["outputs"][T.WARNINGS.name])
    assert warning is not None
    assert warning.level is Level.II
    assert warning.region_name == "金水区花园路街道"
    assert {"sensor", "hotline"} <= {s.value for s in warning.sources}
    assert warning.department == "water_group"
    assert warning.explanation and warning.signals


def test_malformed_records_reach_the_dead_letter_topic_with_reason(run: dict) -> None:
    letters = [DeadLetter.model_validate_json(v) for v in run["outputs"][T.DEADLETTER.name]]
    by_topic = {d.source_topic: d for d in letters if d.source_topic in MALFORMED}
    assert set(by_topic) == set(MALFORMED)
    for topic, letter in by_topic.items():
        assert letter.reason == EXPECTED_REASONS[topic]
        assert letter.original == MALFORMED[topic]
        assert letter.partition is not None and letter.offset is not None and letter.detail


def test_events_are_keyed_by_street_and_personal_data_is_masked(run: dict) -> None:
    from riskwatch.contracts import Event

    events = [Event.model_validate_json(v) for v in run["outputs"][T.EVENTS.name]]
    texts = [e.text or "" for e in events if e.source.value == "hotline"]
    assert texts
    assert not any(_has_mobile(t) for t in texts)


def _has_mobile(text: str) -> bool:
    import re

    return re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text) is not None


def test_store_holds_the_latest_version_of_every_warning(run: dict) -> None:
    latest = _latest(run["outputs"][T.WARNINGS.name])
    store = WarningStore(run["database_url"])
    try:
        for warning_id, warning in latest.items():
            stored = store.warnings.get(warning_id)
            assert stored is not None and stored.version == warning.version and stored.level is warning.level
    finally:
        store.close()


def test_replay_gives_the_same_warnings_as_the_kafka_path(run: dict) -> None:
    files = run["files"]
    result = replay(load_city_config(), [str(files / n) for n in ("hotline.jsonl", "police.jsonl", "sensor.jsonl")])
    # The same warnings with the same level, place, category and sources. How many Updates it
    # took may differ: the worker reads the three raw topics at their own paces, so evidence can
    # reach the grader in another order than the replay's single time-ordered pass.
    def final(warnings: dict[str, Warning]) -> dict[str, tuple]:
        return {k: (w.level, w.region_code, w.category, frozenset(w.sources), w.msg_type) for k, w in warnings.items()}

    assert final(result.final_warnings()) == final(_latest(run["outputs"][T.WARNINGS.name]))


# These three change the warnings' state, so they run last in this module.


def test_the_worker_escalates_a_missed_deadline_without_the_api(run: dict) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from riskwatch.alerts.store.tables import DisposalRow
    from riskwatch.contracts import WarningStatus

    burst = _burst_warning(run["outputs"][T.WARNINGS.name])
    store = WarningStore(run["database_url"])
    try:
        waiting = sorted(
            w for w in _latest(run["outputs"][T.WARNINGS.name])
            if (stored := store.warnings.get(w)) is not None and stored.status is WarningStatus.new
        )
        assert waiting, "no warning waits for acknowledgement"
        warning_id = next((w for w in waiting if burst is None or w != burst.warning_id), waiting[0])
        before = store.disposals.get(warning_id)
        assert before is not None and before.escalations == 0
        with store.engine.begin() as conn:  # as if nobody acknowledged it in time
            conn.execute(
                update(DisposalRow)
                .where(DisposalRow.warning_id == warning_id)
                .values(acknowledge_due=datetime.now(UTC) - timedelta(minutes=1))
            )
        _await(lambda: store.disposals.escalations(warning_id), 60, "the worker's deadline round")
        [escalation] = store.disposals.escalations(warning_id)
        tier_to = store.routing.next_tier(before.tier)
        assert (escalation.deadline, escalation.tier_from, escalation.tier_to) == ("acknowledge", before.tier, tier_to)
        after = store.disposals.get(warning_id)
        assert after is not None and after.tier == tier_to and after.acknowledge_due > datetime.now(UTC)
    finally:
        store.close()


def test_worker_reports_its_health_for_the_command_center(run: dict) -> None:
    store = WarningStore(run["database_url"])
    try:
        def worker_health() -> dict | None:
            rows = [s for name, s in store.health.latest().items() if name.startswith("worker:riskwatch-e2e:")]
            return rows[0].payload if rows and rows[0].payload["events"] >= run["produced"] - len(MALFORMED) else None

        _await(lambda: worker_health() is not None, 60, "a health snapshot covering every event")
        payload = worker_health()
        assert payload is not None
        assert set(payload["lag"]) <= {t.name for t in T.ALL_TOPICS} and all(n >= 0 for n in payload["lag"].values())
        assert payload["signals"] > 0 and payload["warnings"] > 0
        assert payload["dead_letters"] >= len(MALFORMED)
        assert isinstance(payload["warming_up"], list)
    finally:
        store.close()


def test_false_alarm_feedback_cancels_the_warning_and_scores_its_detectors(run: dict) -> None:
    from riskwatch.contracts import MsgType, WarningStatus
    from riskwatch.contracts.feedback import Feedback

    warning = _burst_warning(run["outputs"][T.WARNINGS.name])
    assert warning is not None
    store = WarningStore(run["database_url"])
    try:
        transition = store.transitions.apply(
            warning.warning_id, WarningStatus.false_alarm, actor="值班长", role="commander", reason="阀门检修试压"
        )
        feedback = Feedback.of(transition, "false_alarm")

        async def send() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=run["broker"])
            await producer.start()
            try:
                await producer.send_and_wait(T.FEEDBACK.name, feedback.model_dump_json().encode(), key=warning.warning_id.encode())
            finally:
                await producer.stop()

        asyncio.run(send())
        _await(lambda: (w := store.warnings.get(warning.warning_id)) is not None and w.msg_type is MsgType.cancel, 60, "the Cancel in the store")
        cancelled = store.warnings.get(warning.warning_id)
        assert cancelled is not None and cancelled.version == warning.version + 1
        assert cancelled.status is WarningStatus.false_alarm  # the lifecycle keeps the commander's verdict
        precision = {p.detector: p for p in store.outcomes.detector_precision()}
        assert {s.detector for s in warning.signals} <= set(precision)
        assert all(precision[s.detector].false_alarms >= 1 for s in warning.signals)
    finally:
        store.close()

"""`riskwatch topics create|describe` and `tail` against a real Apache Kafka broker."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
import typer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from typer.testing import CliRunner

from riskwatch.contracts import Level, MsgType, Source, Warning
from riskwatch.contracts.topics import ALL_TOPICS, FEEDBACK, WARNINGS
from riskwatch.streams import admin
from riskwatch.tools.topics_cli import register

pytestmark = pytest.mark.integration

PARTITIONS = 3


@pytest.fixture(scope="module")
def created(kafka_bootstrap: str) -> list[str]:
    """The topics this module created (others may have been created earlier in the session)."""
    return admin.create_topics(kafka_bootstrap, PARTITIONS, 1)


@pytest.fixture
def topics(kafka_bootstrap: str, created: list[str]) -> str:
    return kafka_bootstrap


def _report(bootstrap: str, name: str) -> admin.TopicReport:
    return next(r for r in admin.describe_topics(bootstrap) if r.name == name)


def _produce(bootstrap: str, topic: str, values: list[bytes], key: bytes, partition: int = 0) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for value in values:
            producer.send(topic, value=value, key=key, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def _warning(n: int) -> Warning:
    now = datetime(2026, 11, 23, 8, 0, n, tzinfo=timezone.utc)
    return Warning(
        warning_id=f"w-{uuid.uuid4().hex[:8]}-{n}", version=1, msg_type=MsgType.alert, level=Level.II,
        region_code="110101001", region_name="东华门街道", district_code="110101", category="water_outage",
        category_name="停水", title=f"停水投诉激增 #{n}", first_seen=now, updated_at=now, score=0.8,
        sources=(Source.hotline, Source.sensor), explanation=("供水压力骤降", "12345 停水工单激增"), signals=(),
    )


def test_create_is_idempotent_and_describe_shows_every_topic(topics: str, created: list[str]) -> None:
    assert admin.create_topics(topics, PARTITIONS, 1) == []
    reports = {r.name: r for r in admin.describe_topics(topics)}
    assert list(reports) == [s.name for s in ALL_TOPICS]
    for spec in ALL_TOPICS:
        report = reports[spec.name]
        assert report.exists
        expected = PARTITIONS if spec.name in created else report.partitions  # pre-existing: as made
        assert report.partitions == expected >= 1
        assert [p.partition for p in report.partition_reports] == list(range(report.partitions))
        assert report.replication_factor == 1
        assert report.configs["retention.ms"] == str(spec.retention_ms)
        assert report.config_drift == {}
    assert "compact" in reports[WARNINGS.name].configs["cleanup.policy"].split(",")
    assert "compact" not in reports[FEEDBACK.name].configs["cleanup.policy"]


def test_describe_shows_lag_of_a_group(topics: str) -> None:
    tp = TopicPartition(FEEDBACK.name, 0)
    before = _report(topics, FEEDBACK.name).end_offsets[0]
    _produce(topics, FEEDBACK.name, [json.dumps({"n": i}).encode() for i in range(3)], key=b"lag-test")
    assert _report(topics, FEEDBACK.name).end_offsets[0] == before + 3

    group = f"riskwatch-test-{uuid.uuid4().hex[:8]}"
    consumer = KafkaConsumer(bootstrap_servers=topics, group_id=group, enable_auto_commit=False)
    try:
        consumer.assign([tp])
        consumer.seek(tp, before)
        got = []
        for _ in range(30):
            got += consumer.poll(timeout_ms=1000, max_records=1).get(tp, [])
            if got:
                break
        assert [r.value for r in got] == [b'{"n": 0}']
        consumer.commit()
    finally:
        consumer.close(autocommit=False)

    report = _report(topics, FEEDBACK.name)
    assert report.lag_of(group) == 2
    lag = next(g for g in report.groups if g.group == group)
    assert lag.committed == {0: before + 1}


def test_tail_returns_the_messages_and_formats_warnings(topics: str) -> None:
    pre = _report(topics, WARNINGS.name)
    warnings = [_warning(n) for n in range(3)]
    _produce(topics, WARNINGS.name, [w.model_dump_json().encode() for w in warnings], key=b"tail-test")

    tailed = list(admin.tail(topics, WARNINGS.name, from_beginning=True, max_messages=3, timeout_s=20))
    assert len(tailed) == 3
    if pre.messages == 0:  # the topic held only ours: exactly those, in order
        assert [m.value["warning_id"] for m in tailed] == [w.warning_id for w in warnings]

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(
        app, ["tail", WARNINGS.name, "--from-beginning", "--max", "3", "--timeout", "20", "--broker", topics]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count(f"── {WARNINGS.name}[") == 3

    ours = {w.warning_id for w in warnings}
    everything = list(admin.tail(topics, WARNINGS.name, from_beginning=True, timeout_s=5))
    mine = [m for m in everything if isinstance(m.value, dict) and m.value.get("warning_id") in ours]
    assert len(mine) == 3
    first = mine[0]
    assert first.level == "II" and first.colour == "orange"
    for part in ("II", "orange", "东华门街道", "110101001", "停水", "停水投诉激增", "供水压力骤降"):
        assert part in first.text


def test_tail_prints_other_topics_as_json_and_times_out(topics: str) -> None:
    marker = uuid.uuid4().hex
    _produce(topics, FEEDBACK.name, [json.dumps({"marker": marker, "text": "误报"}).encode()], key=b"k", partition=1)
    tailed = list(admin.tail(topics, FEEDBACK.name, from_beginning=True, timeout_s=5))
    mine = [m for m in tailed if isinstance(m.value, dict) and m.value.get("marker") == marker]
    assert len(mine) == 1
    assert '"text": "误报"' in mine[0].text and mine[0].key == "k"

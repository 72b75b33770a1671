"""The service fixtures give real, working Kafka and PostgreSQL instances."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.integration


async def test_kafka_roundtrip(kafka_bootstrap: str) -> None:
    topic = f"rw-selftest-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        assert topic in await admin.list_topics()
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"level": "red"}', key=b"district-7")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=f"{topic}-group",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=60)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"district-7", b'{"level": "red"}')


def test_postgres_query(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE selftest (id int PRIMARY KEY, note text)"))
            conn.execute(sa.text("INSERT INTO selftest VALUES (1, 'ok')"))
            row = conn.execute(sa.text("SELECT current_database(), note FROM selftest")).one()
            conn.execute(sa.text("DROP TABLE selftest"))
    finally:
        engine.dispose()
    assert tuple(row) == ("riskwatch_test", "ok")

"""The service fixtures give real, working Kafka and PostgreSQL instances."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from riskwatch.tools.devservices.kafka import KafkaBroker

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


async def test_a_restarted_broker_keeps_its_port_records_and_committed_offsets() -> None:
    """A broker of its own: restarting the session's would disturb other tests."""
    topic, group = "rw-restart", "rw-restart-group"
    with KafkaBroker() as broker:
        bootstrap = broker.bootstrap
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for n in range(3):
                await producer.send_and_wait(topic, f"record-{n}".encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            for _ in range(2):
                await asyncio.wait_for(consumer.getone(), timeout=60)
            await consumer.commit({TopicPartition(topic, 0): 2})
        finally:
            await consumer.stop()

        assert await asyncio.to_thread(broker.restart) == bootstrap  # SIGTERM: a controlled shutdown

        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=60)
        finally:
            await consumer.stop()
    assert (message.offset, message.value) == (2, b"record-2")  # resumed at the committed offset


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

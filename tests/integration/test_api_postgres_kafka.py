"""The API on a real PostgreSQL serves what another process's WarningStore saved, and a
transition's feedback arrives on the real Kafka topic riskwatch.feedback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from fastapi.testclient import TestClient

from riskwatch.alerts.feed.app import create_app
from riskwatch.alerts.feed.cap import validate_cap
from riskwatch.alerts.feed.feedback_publisher import FEEDBACK_TOPIC, KafkaFeedbackPublisher, NoFeedbackPublisher
from riskwatch.alerts.feed.options import ApiOptions
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.settings import Settings
from riskwatch.streams.admin import create_topics
from tests.api_support import api_warning, bearer, make_tokens
from tests.databases import fresh_database
from tests.store_contract import save

pytestmark = pytest.mark.integration

QUIET = ApiOptions(poll_interval=3600, health_interval=3600)
GUARD = 60.0  # seconds: a guard against a hung test, not a synchronisation


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> Iterator[str]:
    with fresh_database(postgres_url, "riskwatch_api") as url:
        store = WarningStore(url)
        store.migrate()
        store.close()
        yield url


def test_api_on_postgres_serves_a_warning_another_store_saved(database_url: str) -> None:
    writer = WarningStore(database_url)  # as the worker would
    api_store = WarningStore(database_url)
    try:
        tokens = make_tokens(api_store)
        save(writer, api_warning(warning_id="w-pg-1"))
        app = create_app(Settings(database_url=database_url), store=api_store, feedback_publisher=NoFeedbackPublisher(), options=QUIET)
        with TestClient(app) as client:
            listed = client.get("/api/warnings", headers=bearer(tokens.commander)).json()
            assert [w["warning_id"] for w in listed] == ["w-pg-1"]
            assert listed[0]["publication"] == {"state": "public", "public_version": 1}
            cap = client.get("/cap/w-pg-1.xml")
            assert cap.status_code == 200
            validate_cap(cap.content)
            assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    finally:
        writer.close()
        api_store.close()


async def _feedback_for(bootstrap: str, warning_id: str) -> dict[str, object]:
    consumer = AIOKafkaConsumer(FEEDBACK_TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        async with asyncio.timeout(GUARD):
            async for message in consumer:
                body = json.loads(message.value)
                if isinstance(body, dict) and body.get("warning_id") == warning_id:  # the session broker is shared
                    assert message.key == warning_id.encode()
                    return body
    finally:
        await consumer.stop()
    raise AssertionError("the consumer stopped before the feedback arrived")


def test_a_transition_is_published_to_the_feedback_topic(database_url: str, kafka_bootstrap: str) -> None:
    create_topics(kafka_bootstrap, partitions=1, replication_factor=1)
    store = WarningStore(database_url)
    try:
        tokens = make_tokens(store)
        save(store, api_warning(warning_id="w-pg-2"))
        settings = Settings(database_url=database_url, broker=kafka_bootstrap)
        app = create_app(settings, store=store, feedback_publisher=KafkaFeedbackPublisher(settings), options=QUIET)
        with TestClient(app) as client:
            response = client.post(
                "/api/warnings/w-pg-2/actions/false_alarm", json={"reason": "现场核实无异常"}, headers=bearer(tokens.operator)
            )
            assert response.status_code == 201
            feedback = asyncio.run(_feedback_for(kafka_bootstrap, "w-pg-2"))
            assert "riskwatch_feedback_published_total 1.0" in client.get("/metrics").text
    finally:
        store.close()
    assert (feedback["action"], feedback["to_status"], feedback["actor"], feedback["reason"]) == (
        "false_alarm", "false_alarm", "供水值班员", "现场核实无异常"
    )

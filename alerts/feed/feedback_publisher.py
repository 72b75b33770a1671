"""Send command-center feedback (each transition) to the `riskwatch.feedback` Kafka topic.

The store is the source of truth: a transition is committed before it is published, and a
failed publish is logged and counted by the caller, never undone. Messages are keyed by
warning id (one partition per warning keeps its feedback in order) and carry `Feedback` JSON.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from riskwatch.config.settings import Settings
from riskwatch.contracts.feedback import Feedback
from riskwatch.contracts.topics import FEEDBACK

log = logging.getLogger(__name__)

FEEDBACK_TOPIC = FEEDBACK.name


class FeedbackPublishError(RuntimeError):
    """A feedback message could not be delivered to Kafka."""


class FeedbackPublisher(Protocol):
    """Where transitions go after the store has recorded them."""

    async def start(self) -> None: ...

    async def publish(self, feedback: Feedback) -> None:
        """Deliver one message or raise `FeedbackPublishError`."""
        ...

    async def stop(self) -> None: ...


class NoFeedbackPublisher:
    """Used when no broker is configured: feedback stays in the store only."""

    async def start(self) -> None:
        log.info("no broker configured (RISKWATCH_BROKER): feedback is kept in the store only")

    async def publish(self, feedback: Feedback) -> None:
        return None

    async def stop(self) -> None:
        return None


def _client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka connection options (bootstrap and SASL/TLS) from the process settings."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        options |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": settings.sasl_password,
        }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    return options


class KafkaFeedbackPublisher:
    """An aiokafka producer started on first use (a broker that is down never blocks the API)."""

    def __init__(self, settings: Settings, *, topic: str = FEEDBACK_TOPIC, timeout: float = 15.0) -> None:
        self._options = _client_options(settings)
        self._topic = topic
        self._timeout = timeout
        self._producer: Any = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        log.info("feedback goes to Kafka topic %s at %s", self._topic, self._options["bootstrap_servers"])

    async def _started(self) -> Any:
        from aiokafka import AIOKafkaProducer

        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **self._options)
                try:
                    await asyncio.wait_for(producer.start(), self._timeout)
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def publish(self, feedback: Feedback) -> None:
        try:
            producer = await self._started()
            await asyncio.wait_for(
                producer.send_and_wait(
                    self._topic,
                    value=feedback.model_dump_json().encode("utf-8"),
                    key=feedback.warning_id.encode("utf-8"),
                ),
                self._timeout,
            )
        except Exception as exc:  # noqa: BLE001 - every delivery failure is reported the same way
            raise FeedbackPublishError(
                f"could not send feedback for warning {feedback.warning_id} to {self._topic}: {exc!r}"
            ) from exc

    async def stop(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None


def publisher_for(settings: Settings) -> FeedbackPublisher:
    """Kafka when a broker was configured explicitly (RISKWATCH_BROKER or an argument), else none."""
    if "broker" in settings.model_fields_set:
        return KafkaFeedbackPublisher(settings)
    return NoFeedbackPublisher()

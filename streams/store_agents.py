"""What the store and feedback agents do with one record: write it to the store, through outages.

Each handler parses the record (a record that cannot be read raises, and the agent loop
dead-letters it), then makes its one store write through `StoreRetry.until_done`, which holds
the record until the store takes it. The feedback handler tells the grader only after the
feedback is recorded, and only once, however many retries the write took.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from riskwatch.alerts.disposal.plan import plan_disposal
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import Feedback, Warning
from riskwatch.streams.agent_loop import Handler, RecordMessage
from riskwatch.streams.store_retry import StoreRetry, record_name

__all__ = ["feedback_handler", "store_handler"]


def _name(message: RecordMessage) -> str:
    return record_name(message.topic, message.partition, message.offset)


def store_handler(store: WarningStore, routing: RoutingConfig, retry: StoreRetry) -> Handler:
    """The store agent's handler: save each warning version with its disposal plan."""

    async def store_record(message: RecordMessage, raw: bytes) -> None:
        warning = Warning.model_validate_json(raw)

        def save() -> bool:
            # Planned at each attempt: the plan is timed by the store's clock when it is written.
            return store.warnings.save(warning, plan_disposal(warning, routing, store.clock.now()))

        await retry.until_done("store", save, record=_name(message))

    return store_record


def feedback_handler(
    store: WarningStore, retry: StoreRetry, tell_grader: Callable[[Feedback], Awaitable[None]]
) -> Handler:
    """The feedback agent's handler: record the outcome (idempotent), then tell the grader once."""

    async def feedback_record(message: RecordMessage, raw: bytes) -> None:
        feedback = Feedback.model_validate_json(raw)
        # Idempotent: the API may have recorded it already, or an earlier attempt did.
        await retry.until_done("feedback", lambda: store.outcomes.record(feedback), record=_name(message))
        await tell_grader(feedback)

    return feedback_record

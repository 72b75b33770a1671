"""The one loop every agent runs: take a record, handle it, dead-letter it if handling fails.

An agent must never stop on a bad record, and a record that fails must never vanish: it goes
to the dead-letter topic with the stage, the exception and the original bytes. What an agent
does after every record whatever happened (note the offset it processed, snapshot its state)
is its `after` step, so the bookkeeping cannot be skipped by a failure.

A handler may hold its record for a long time (the store agent waits through a store outage,
see `store_retry.py`). If the worker stops meanwhile, the record is *withheld*: Faust would
acknowledge the record in hand as its stream closes, and commit past a warning that was never
stored; withheld, it is read again by the next worker. A handler that learns the worker is
stopping before Faust cancels it raises `GiveBack`: the record is withheld and the agent waits,
taking no other record, until the worker cancels it.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from riskwatch.contracts import DeadLetter

log = logging.getLogger(__name__)


class RecordMessage(Protocol):
    """Where a record was read from (Faust's and aiokafka's messages have these)."""

    topic: str
    partition: int
    offset: int


class GiveBack(asyncio.CancelledError):
    """Raised by a handler that cannot finish its record because the worker is stopping."""


#: Handles one record's bytes; raising sends the record to the dead-letter topic.
Handler = Callable[[RecordMessage, bytes], Awaitable[None]]
#: Runs after every record, handled or dead-lettered.
After = Callable[[RecordMessage], Awaitable[None]]
#: Publishes a dead letter.
DeadLetterSink = Callable[[DeadLetter], Awaitable[None]]


def failure_letter(stage: str, raw: bytes, message: RecordMessage, exc: BaseException) -> DeadLetter:
    """A dead letter for a record the `stage` could not handle, naming the exception."""
    log.exception("%s failed on %s[%s]@%s", stage, message.topic, message.partition, message.offset)
    return DeadLetter.of(
        reason=f"{stage}_error",
        detail=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}",
        original=raw,
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        at=datetime.now(UTC),
    )


def withhold(record: Any) -> None:
    """Keep Faust from acknowledging (and so committing) a record whose handling did not finish.

    Faust acknowledges the record in hand when the stream's iterator closes, unless the
    message is marked acknowledged already; marking it so without telling the consumer leaves
    its offset out of every commit, and out of what a stopping consumer waits for.
    """
    message = getattr(record, "message", None)
    if message is not None and hasattr(message, "acked"):
        log.warning("%s[%s]@%s not finished when the agent stopped: withheld, it is read again on restart",
                    message.topic, message.partition, message.offset)
        message.acked = True


async def each_record(
    stream: Any, stage: str, handle: Handler, dead_letter: DeadLetterSink, after: After | None = None
) -> None:
    """Feed every record of a Faust stream to `handle`; a failure is dead-lettered, never raised."""
    async for record in stream.events():
        message, raw = record.message, record.value or b""
        try:
            await handle(message, raw)
        except Exception as exc:  # noqa: BLE001 - a bad record must never stop the agent
            await dead_letter(failure_letter(stage, raw, message, exc))
        except GiveBack:
            withhold(record)
            # Ending now would look like a crash to Faust, which restarts crashed agents; the
            # worker is stopping and cancels this agent shortly.
            await asyncio.Event().wait()
        except BaseException:  # cancelled (the worker is stopping) while the record is in hand
            withhold(record)
            raise
        if after is not None:
            await after(message)

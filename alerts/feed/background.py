"""The app's background tasks: the change poller and the health beat.

One of each per app (not per client): the poller reads new warning versions, transitions and
escalations from the store about once a second and fans them out through the `ChangeFeed`; the
health beat sends the pipeline status every few seconds. Store calls run in worker threads so
the event loop never blocks. A failing round is logged and retried on the next tick; it never
stops the task.

The API escalates nothing itself: deadlines are checked by the workers (and `riskwatch
disposal run`), so a deployment without the API still escalates; the API only announces the
escalations they recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from anyio import to_thread

from riskwatch.alerts.feed.changes import FeedEvent
from riskwatch.alerts.feed.context import ApiContext
from riskwatch.alerts.feed.presenter import current_pipeline
from riskwatch.alerts.feed.queries import ChangeCursor, department_of

log = logging.getLogger(__name__)


class ChangePoller:
    """Turns new rows in the store into `warning` and `transition` feed events."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._cursor = ChangeCursor(ctx.store.engine)

    def _read(self) -> list[FeedEvent]:
        changes = self._cursor.poll()
        events: list[FeedEvent] = []
        for change in changes.warnings:
            events.append(FeedEvent("warning", department_of(change.warning, change.disposal), change))
        events.extend(FeedEvent("transition", department, t) for t, department in changes.transitions)
        events.extend(FeedEvent("escalation", department, e) for e, department in changes.escalations)
        return events

    async def poll_once(self) -> int:
        """Read and publish what changed since the last poll; returns how many events."""
        events = await to_thread.run_sync(self._read)
        for event in events:
            if event.kind == "escalation":
                self._ctx.metrics.escalations.inc()
            self._ctx.feed.publish(event)
        return len(events)


async def health_once(ctx: ApiContext) -> None:
    """Publish the pipeline status as a `health` event."""
    status = await to_thread.run_sync(current_pipeline, ctx)
    ctx.feed.publish(FeedEvent("health", None, status))


async def every(interval: float, name: str, step: Callable[[], Awaitable[object]]) -> None:
    """Run `step` every `interval` seconds until cancelled; errors are logged, not fatal."""
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed; retrying in %.1f s", name, interval)
        await asyncio.sleep(interval)

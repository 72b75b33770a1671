"""Fan-out of change events to SSE subscribers: one producer (the poller), many queues.

Each subscriber has its own bounded asyncio queue; a subscriber that falls `maxsize` events
behind is dropped (its stream ends and the browser's EventSource reconnects) rather than
letting one slow client hold memory for everyone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from riskwatch.alerts.disposal.lifecycle import Disposal, Escalation, Transition
from riskwatch.alerts.disposal.publication import Publication
from riskwatch.alerts.feed.views import PipelineStatus
from riskwatch.contracts import Warning

EventKind = Literal["warning", "transition", "escalation", "health"]


@dataclass(frozen=True)
class WarningChange:
    """A new version of a warning, with what the store knew about it when it was read."""

    warning: Warning
    publication: Publication | None
    disposal: Disposal | None


@dataclass(frozen=True)
class FeedEvent:
    """One change for subscribers; `department` decides which operators may receive it."""

    kind: EventKind
    department: str | None
    body: WarningChange | Transition | Escalation | PipelineStatus


@dataclass(eq=False)
class Subscription:
    """One subscriber's queue; `dropped` is set when it fell too far behind."""

    queue: asyncio.Queue[FeedEvent]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)

    async def next(self) -> FeedEvent | None:
        """The next event, or None once this subscriber has been dropped."""
        if self.dropped.is_set() and self.queue.empty():
            return None
        get = asyncio.ensure_future(self.queue.get())
        drop = asyncio.ensure_future(self.dropped.wait())
        try:
            done, _ = await asyncio.wait({get, drop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (get, drop):
                if not task.done():
                    task.cancel()
        return get.result() if get in done else None


class ChangeFeed:
    """Delivers every published event to every current subscriber (same event loop)."""

    def __init__(self, maxsize: int = 1000, on_drop: Callable[[], None] | None = None) -> None:
        self._maxsize = maxsize
        self._subscribers: set[Subscription] = set()
        self._on_drop = on_drop

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def open(self) -> Subscription:
        """Receive every event published from now on, until `close`."""
        subscription = Subscription(asyncio.Queue(self._maxsize))
        self._subscribers.add(subscription)
        return subscription

    def close(self, subscription: Subscription) -> None:
        """Stop delivering to `subscription` (idempotent)."""
        self._subscribers.discard(subscription)

    def publish(self, event: FeedEvent) -> None:
        """Queue `event` for every subscriber; drop those whose queue is full."""
        for subscription in list(self._subscribers):
            try:
                subscription.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(subscription)
                subscription.dropped.set()
                if self._on_drop is not None:
                    self._on_drop()

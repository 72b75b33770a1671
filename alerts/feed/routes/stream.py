"""GET /api/stream: the live change feed as Server-Sent Events.

Events: `warning` (WarningView, masked for the caller's role, on every new version),
`transition` (its reason redacted for analysts), `escalation` and `health` (the /api/pipeline
body). Operators receive only their department's warnings, transitions and escalations. Every
unmasked warning delivered to a commander or operator is audited like a detail read. A `: ping`
comment keeps proxies open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from anyio import to_thread
from fastapi import APIRouter
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from riskwatch.alerts.disposal.lifecycle import Transition
from riskwatch.alerts.feed.access import transition_as_seen
from riskwatch.alerts.feed.audit_trail import READ_STREAM, READ_WARNING, STREAM_TARGET, record_unmasked_read
from riskwatch.alerts.feed.auth import Caller, Context
from riskwatch.alerts.feed.changes import FeedEvent, Subscription, WarningChange
from riskwatch.alerts.feed.context import ApiContext
from riskwatch.alerts.feed.presenter import warning_view
from riskwatch.alerts.store.tokens import Identity, Role

router = APIRouter(prefix="/api", tags=["live feed"])


def receives(who: Identity, event: FeedEvent) -> bool:
    """Whether `who` may receive `event` (health is for everyone internal)."""
    if event.kind == "health" or who.role is not Role.operator:
        return True
    return who.department is not None and event.department == who.department


def render(ctx: ApiContext, who: Identity, event: FeedEvent) -> ServerSentEvent:
    """The SSE message of an event for this caller."""
    if isinstance(event.body, WarningChange):
        data = warning_view(ctx, event.body, who).model_dump_json()
    elif isinstance(event.body, Transition):
        data = transition_as_seen(event.body, who).model_dump_json()
    else:
        data = event.body.model_dump_json()
    return ServerSentEvent(data=data, event=event.kind)


async def _events(ctx: ApiContext, who: Identity, subscription: Subscription) -> AsyncIterator[ServerSentEvent]:
    while (event := await subscription.next()) is not None:
        if not receives(who, event):
            continue
        if isinstance(event.body, WarningChange):
            warning = event.body.warning
            detail = f"live stream, version {warning.version}"
            await to_thread.run_sync(record_unmasked_read, ctx, who, READ_WARNING, warning.warning_id, detail)
        yield render(ctx, who, event)


@router.get("/stream", response_class=EventSourceResponse)
async def stream(ctx: Context, who: Caller) -> EventSourceResponse:
    """Subscribe before answering, so everything stored after the response starts is delivered."""
    await to_thread.run_sync(record_unmasked_read, ctx, who, READ_STREAM, STREAM_TARGET, "subscribed to the unmasked live feed")
    subscription = ctx.feed.open()

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for message in _events(ctx, who, subscription):
                yield message
        finally:
            ctx.feed.close(subscription)

    return EventSourceResponse(
        events(),
        ping=ctx.options.ping_interval,
        ping_message_factory=lambda: ServerSentEvent(comment="ping"),
        headers={"X-Accel-Buffering": "no"},
        background=BackgroundTask(ctx.feed.close, subscription),
    )

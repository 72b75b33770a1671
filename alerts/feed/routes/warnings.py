"""Warnings: list, detail with timeline, lifecycle actions and approval for the public feed."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool

from riskwatch.alerts.disposal.lifecycle import ACTIONS, IllegalTransition, Transition, UnknownWarning
from riskwatch.alerts.disposal.publication import Publication
from riskwatch.alerts.feed.access import may_approve, may_change_warnings, may_read_warning, may_transition
from riskwatch.alerts.feed.audit_trail import READ_WARNING, record_unmasked_list, record_unmasked_read
from riskwatch.alerts.feed.auth import Caller, Context, refuse
from riskwatch.alerts.feed.context import ApiContext
from riskwatch.alerts.feed.feedback_publisher import FeedbackPublishError
from riskwatch.alerts.feed.presenter import warning_detail, warning_view
from riskwatch.alerts.feed.queries import WarningFilter, department_of, list_warnings
from riskwatch.alerts.feed.views import ActionRequest, WarningDetail, WarningView
from riskwatch.alerts.store.audit import AuditRecord
from riskwatch.alerts.store.tokens import Identity, Role
from riskwatch.contracts import Level, Warning, WarningStatus
from riskwatch.contracts.feedback import Feedback

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/warnings", tags=["warnings"])

ActionName = StrEnum("ActionName", [(name, name) for name in ACTIONS])  # type: ignore[misc]
"""The lifecycle's action names, as a path parameter (unknown names are a 422 listing these)."""


def _existing(ctx: ApiContext, warning_id: str) -> Warning:
    warning = ctx.store.warnings.get(warning_id)
    if warning is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no warning {warning_id!r}")
    return warning


def _department(ctx: ApiContext, warning: Warning) -> str | None:
    return department_of(warning, ctx.store.disposals.get(warning.warning_id))


@router.get("", response_model=list[WarningView])
def list_(
    ctx: Context,
    who: Caller,
    level: Level | None = None,
    status_: Annotated[WarningStatus | None, Query(alias="status")] = None,
    category: str | None = None,
    region: Annotated[str | None, Query(description="Region code prefix (district, street or grid)")] = None,
    since: Annotated[datetime | None, Query(description="Only warnings updated at or after this time (ISO 8601 with offset)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[WarningView]:
    """Current warnings, newest first; operators see only their department's."""
    if since is not None and since.utcoffset() is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="since needs a time zone offset, e.g. 2026-11-23T08:00:00Z")
    where = WarningFilter(
        level=level,
        status=status_,
        category=category,
        region_prefix=region,
        since=since,
        department=who.department if who.role is Role.operator else None,
        limit=limit,
    )
    if who.role is Role.operator and who.department is None:
        return []
    changes = list_warnings(ctx.store.engine, where)
    record_unmasked_list(ctx, who, [change.warning for change in changes])
    return [warning_view(ctx, change, who) for change in changes]


@router.get("/{warning_id}", response_model=WarningDetail, responses={403: {}, 404: {}})
def detail(warning_id: str, ctx: Context, who: Caller) -> WarningDetail:
    """One warning with versions, transitions and escalations; unmasked reads are audited."""
    warning = _existing(ctx, warning_id)
    decision = may_read_warning(who, _department(ctx, warning))
    if not decision:
        raise refuse(ctx, who, "read.warning", warning_id, decision)
    record_unmasked_read(ctx, who, READ_WARNING, warning_id, f"unmasked detail, version {warning.version}")
    return warning_detail(ctx, warning, who)


def _apply(ctx: ApiContext, who: Identity, warning_id: str, action: str, reason: str) -> Transition:
    """Check, then transition and audit in one transaction (blocking; the store is the source of truth)."""
    decision = may_change_warnings(who)
    if not decision:
        raise refuse(ctx, who, action, warning_id, decision)
    warning = _existing(ctx, warning_id)
    decision = may_transition(who, _department(ctx, warning))
    if not decision:
        raise refuse(ctx, who, action, warning_id, decision)

    def entry(transition: Transition) -> AuditRecord:
        moved = f"{transition.from_status.value} → {transition.to_status.value}"
        return AuditRecord(
            actor=who.name, role=who.role.value, action=f"transition.{action}", target=warning_id, detail=f"{moved}: {reason}"
        )

    try:
        return ctx.store.transitions.apply(
            warning_id, ACTIONS[action], actor=who.name, role=who.role.value, reason=reason, audit=entry
        )
    except UnknownWarning as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except IllegalTransition as exc:
        ctx.store.audit_log.append(actor=who.name, role=who.role.value, action=f"rejected.{action}", target=warning_id, detail=str(exc))
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc


async def _publish(ctx: ApiContext, feedback: Feedback) -> None:
    """Send feedback to Kafka after the response; a failure is logged and counted, never raised."""
    try:
        await ctx.publisher.publish(feedback)
    except FeedbackPublishError as exc:
        ctx.metrics.feedback_failures.inc()
        log.warning("%s (the transition is stored; feedback is in the store's feedback table)", exc)
    else:
        ctx.metrics.feedback_published.inc()


@router.post(
    "/{warning_id}/actions/{action}",
    response_model=Transition,
    status_code=status.HTTP_201_CREATED,
    responses={403: {}, 404: {}, 409: {"description": "the lifecycle does not allow this move now"}},
)
async def act(
    warning_id: str, action: ActionName, body: ActionRequest, ctx: Context, who: Caller, background: BackgroundTasks
) -> Transition:
    """Move a warning along its lifecycle; the move is stored, audited and sent as feedback."""
    transition = await run_in_threadpool(_apply, ctx, who, warning_id, action.value, body.reason)
    feedback = Feedback.of(transition, action.value)
    await run_in_threadpool(ctx.store.outcomes.record, feedback)
    background.add_task(_publish, ctx, feedback)
    return transition


def _approve(ctx: ApiContext, who: Identity, warning_id: str) -> Publication:
    decision = may_approve(who)  # before the lookup: a refused role learns nothing about the id
    if not decision:
        raise refuse(ctx, who, "approve", warning_id, decision)

    def entry(publication: Publication) -> AuditRecord:
        detail = f"public version {publication.public_version}"
        return AuditRecord(actor=who.name, role=who.role.value, action="approve", target=warning_id, detail=detail)

    try:
        return ctx.store.publications.approve(warning_id, actor=who.name, audit=entry)
    except UnknownWarning as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no warning {warning_id!r}") from exc


@router.post("/{warning_id}/approve", response_model=Publication, responses={403: {}, 404: {}})
def approve(warning_id: str, ctx: Context, who: Caller) -> Publication:
    """Release the warning's current version to the public feed (commanders only)."""
    return _approve(ctx, who, warning_id)

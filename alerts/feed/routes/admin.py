"""Silences for planned work and the audit log (commander business)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from riskwatch.alerts.disposal.silences import Silence, SilenceRequest, UnknownSilence
from riskwatch.alerts.feed.access import may_change_silences, may_read_audit, silence_as_seen
from riskwatch.alerts.feed.auth import Caller, Context, refuse
from riskwatch.alerts.store.audit import AuditEntry, AuditRecord

router = APIRouter(prefix="/api", tags=["silences and audit"])


@router.get("/silences", response_model=list[Silence])
def silences(
    ctx: Context,
    who: Caller,
    active: Annotated[bool, Query(description="Only silences in force now")] = False,
) -> list[Silence]:
    """Every silence (or only the active ones), for any internal role (reasons redacted for analysts)."""
    return [silence_as_seen(s, who) for s in ctx.store.silences.list(ctx.clock.now() if active else None)]


@router.post("/silences", response_model=Silence, status_code=status.HTTP_201_CREATED, responses={403: {}})
def add_silence(request: SilenceRequest, ctx: Context, who: Caller) -> Silence:
    """Mute matching warnings for a maintenance window (commanders only; audited)."""
    decision = may_change_silences(who)
    if not decision:
        raise refuse(ctx, who, "silence.create", request.region_prefix, decision)

    def entry(silence: Silence) -> AuditRecord:
        categories = ",".join(silence.categories) or "all categories"
        window = f"{silence.starts_at.isoformat()}–{silence.ends_at.isoformat()}"
        return AuditRecord(
            actor=who.name, role=who.role.value, action="silence.create", target=silence.silence_id,
            detail=f"{silence.region_prefix} {categories} {window}: {silence.reason}",
        )

    return ctx.store.silences.add(request, created_by=who.name, audit=entry)


@router.delete("/silences/{silence_id}", response_model=Silence, responses={403: {}, 404: {}})
def expire_silence(silence_id: str, ctx: Context, who: Caller) -> Silence:
    """End a silence now (commanders only; audited)."""
    decision = may_change_silences(who)
    if not decision:
        raise refuse(ctx, who, "silence.expire", silence_id, decision)

    def entry(silence: Silence) -> AuditRecord:
        return AuditRecord(actor=who.name, role=who.role.value, action="silence.expire", target=silence_id, detail=silence.reason)

    try:
        return ctx.store.silences.expire(silence_id, actor=who.name, audit=entry)
    except UnknownSilence as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


@router.get("/audit", response_model=list[AuditEntry], responses={403: {}})
def audit(
    ctx: Context,
    who: Caller,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[AuditEntry]:
    """The audit log, newest first, filtered (commanders only)."""
    decision = may_read_audit(who)
    if not decision:
        raise refuse(ctx, who, "read.audit", "audit_log", decision)
    if since is not None and since.utcoffset() is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="since needs a time zone offset")
    return ctx.store.audit_log.entries(actor=actor, action=action, target=target, since=since, limit=limit)

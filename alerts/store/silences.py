"""Stored silences: maintenance windows that mute matching warnings, with who set and ended them."""

from __future__ import annotations

import builtins
import secrets
from datetime import datetime

from sqlalchemy import or_, select

from riskwatch.alerts.disposal.clock import require_aware
from riskwatch.alerts.disposal.silences import Silence, SilenceRequest, UnknownSilence
from riskwatch.alerts.store.audit import AuditFor, write_audit
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import SilenceRow

__all__ = ["SilenceRepository"]


def _silence(row: SilenceRow) -> Silence:
    return Silence.model_validate(row, from_attributes=True)


class SilenceRepository:
    """Adds, lists, matches and expires silences."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def add(self, request: SilenceRequest, *, created_by: str, audit: AuditFor[Silence] | None = None) -> Silence:
        """Store a silence; it starts now unless the request says when.

        `audit` (a record, or a function of the new silence, whose id is made here) is written
        in the same transaction, timed at the silence's creation.
        """
        now = self._sessions.now()
        starts_at = request.starts_at or now
        if request.ends_at <= now:
            raise ValueError(f"ends_at {request.ends_at.isoformat()} is already past (now {now.isoformat()})")
        if request.ends_at <= starts_at:
            raise ValueError(f"ends_at {request.ends_at.isoformat()} must be after starts_at {starts_at.isoformat()}")
        silence = Silence(
            silence_id=secrets.token_hex(8),
            region_prefix=request.region_prefix,
            categories=request.categories,
            starts_at=starts_at,
            ends_at=request.ends_at,
            reason=request.reason,
            created_by=created_by,
            created_at=now,
        )
        with self._sessions.write() as session:
            session.add(SilenceRow(**{**silence.model_dump(), "categories": list(silence.categories)}))
            write_audit(session, audit, silence, now)
        return silence

    def list(self, active_at: datetime | None = None) -> builtins.list[Silence]:
        """Every silence (None), or those in force at `active_at`; oldest created (then starting) first."""
        stmt = select(SilenceRow).order_by(SilenceRow.created_at, SilenceRow.starts_at, SilenceRow.silence_id)
        if active_at is not None:
            at = require_aware(active_at, "active_at")
            stmt = stmt.where(
                SilenceRow.starts_at <= at,
                SilenceRow.ends_at > at,
                or_(SilenceRow.expired_at.is_(None), SilenceRow.expired_at > at),
            )
        with self._sessions.read() as session:
            return [_silence(row) for row in session.scalars(stmt)]

    def matching(self, region_code: str, category: str, at: datetime | None = None) -> Silence | None:
        """The first silence muting this region and category at `at` (default now), if any."""
        when = self._sessions.at_or_now(at, "at")
        return next((s for s in self.list(active_at=when) if s.matches(region_code, category, when)), None)

    def expire(self, silence_id: str, *, actor: str, audit: AuditFor[Silence] | None = None) -> Silence:
        """End a silence now; one that already ended is returned unchanged.

        `audit` (a record, or a function of the silence) is written in the same transaction,
        also when the silence had already ended (the request is still on record).
        """
        now = self._sessions.now()
        with self._sessions.write() as session:
            row = session.get(SilenceRow, silence_id, with_for_update=True)
            if row is None:
                raise UnknownSilence(silence_id)
            if row.expired_at is None and now < row.ends_at:
                row.expired_at = now
                row.expired_by = actor
            silence = _silence(row)
            write_audit(session, audit, silence, now)
            return silence

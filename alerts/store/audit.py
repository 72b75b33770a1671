"""The audit log: who did or read what, when. Entries are only ever appended.

`AuditRecord` is an entry still to be written (the store assigns its id and time);
`AuditEntry` is one as stored. A repository method that changes state takes an `AuditRecord`
(or a function building one from the method's result) and writes it with `write_audit` in the
same transaction, so a change is never stored without its entry, nor an entry without its
change. `AuditLog` appends entries on their own (reads of personal data, denials) and lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskwatch.alerts.disposal.clock import require_aware
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import AuditRow

__all__ = ["AuditEntry", "AuditFor", "AuditLog", "AuditRecord", "write_audit"]

_Result = TypeVar("_Result")


class AuditRecord(BaseModel):
    """An audit entry to write: everything but its id and time. Lengths are the columns' limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor: str = Field(min_length=1, max_length=128)
    role: str = Field(max_length=32)
    action: str = Field(min_length=1, max_length=64, description="e.g. 'transition.acknowledge', 'read.warning'")
    target: str = Field(max_length=128, description="What it was done to, e.g. a warning or silence id")
    detail: str = ""


AuditFor = AuditRecord | Callable[[_Result], AuditRecord]
"""The entry to write with a change: fixed, or built from the change's result (e.g. a new id)."""


class AuditEntry(BaseModel):
    """One audited action, e.g. a transition, an approval, or a read of personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entry_id: int = Field(description="Increasing with time of writing")
    actor: str
    role: str
    action: str = Field(description="e.g. 'transition.acknowledge', 'read.warning', 'approve', 'denied'")
    target: str = Field(description="What it was done to, e.g. a warning or silence id")
    detail: str = ""
    at: AwareDatetime


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry.model_validate(row, from_attributes=True)


def write_audit(session: Session, audit: AuditFor[_Result] | None, result: _Result, at: datetime) -> None:
    """Add the entry for a change to the change's own session (nothing if `audit` is None)."""
    if audit is None:
        return
    record = audit if isinstance(audit, AuditRecord) else audit(result)
    session.add(AuditRow(**record.model_dump(), at=at))
    session.flush()


class AuditLog:
    """Appends audit entries that stand on their own, and reads the log."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def append(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        target: str,
        detail: str = "",
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append an audit entry and return it with its id."""
        record = AuditRecord(actor=actor, role=role, action=action, target=target, detail=detail)
        [entry] = self.append_many([record], at=at)
        return entry

    def append_many(self, entries: Sequence[AuditRecord], at: datetime | None = None) -> list[AuditEntry]:
        """Append several entries in one transaction, all at one time; returned with their ids, in order."""
        when = self._sessions.at_or_now(at, "audit at")
        rows = [AuditRow(**AuditRecord.model_validate(entry).model_dump(), at=when) for entry in entries]
        if not rows:
            return []
        with self._sessions.write() as session:
            session.add_all(rows)
            session.flush()
            return [_entry(row) for row in rows]

    def entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, filtered by any of the arguments (exact matches)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        stmt = select(AuditRow).order_by(AuditRow.entry_id.desc()).limit(limit)
        if actor is not None:
            stmt = stmt.where(AuditRow.actor == actor)
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        if target is not None:
            stmt = stmt.where(AuditRow.target == target)
        if since is not None:
            stmt = stmt.where(AuditRow.at >= require_aware(since, "since"))
        with self._sessions.read() as session:
            return [_entry(row) for row in session.scalars(stmt)]

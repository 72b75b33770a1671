"""The audit log: who did or read what, when. Entries are only ever appended.

`AuditRecord` is an entry still to be written (the store assigns its id and time);
`AuditEntry` is one as stored. A store method that changes state takes an `AuditRecord`
(or a function building one from the method's result) and writes it in the same
transaction, so a change is never stored without its entry, nor an entry without its change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["AuditEntry", "AuditFor", "AuditRecord"]

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

"""The audit log: who did or read what, when. Entries are only ever appended."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["AuditEntry"]


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

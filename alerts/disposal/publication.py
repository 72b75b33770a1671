"""Which version of a warning the public may see.

Levels listed in `routing.publication.auto_public_levels` go public as soon as they are saved;
the others wait until a commander approves them, as public warning systems require. Internal
feeds always see the current version; only the public feed follows `public_version`.
"""

from __future__ import annotations

from enum import Enum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from riskwatch.contracts import Level, MsgType

__all__ = ["Publication", "PublicationState", "publication_after_save"]


class PublicationState(str, Enum):
    public = "public"
    awaiting_approval = "awaiting_approval"


class Publication(BaseModel):
    """A warning's public state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning_id: str
    state: PublicationState
    public_version: int | None = Field(description="Version the public feed shows; None = not public yet")
    approved_by: str | None
    approved_at: AwareDatetime | None


def publication_after_save(
    previous: Publication | None,
    warning_id: str,
    version: int,
    level: Level,
    msg_type: MsgType,
    auto_public_levels: frozenset[Level],
) -> Publication:
    """The publication state once `version` of a warning is saved.

    An auto-public level publishes the new version at once. A Cancel of a warning the public
    already saw is published at once too: withdrawing a public warning must not wait. Anything
    else waits for approval and the public keeps seeing the last approved version.
    """
    already_public = previous is not None and previous.public_version is not None
    if level in auto_public_levels or (msg_type is MsgType.cancel and already_public):
        return Publication(
            warning_id=warning_id,
            state=PublicationState.public,
            public_version=version,
            approved_by=None,
            approved_at=None,
        )
    return Publication(
        warning_id=warning_id,
        state=PublicationState.awaiting_approval,
        public_version=previous.public_version if previous else None,
        approved_by=previous.approved_by if previous else None,
        approved_at=previous.approved_at if previous else None,
    )

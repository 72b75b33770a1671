"""Which version of a warning the public may see.

Levels listed in `routing.publication.auto_public_levels` go public as soon as they are saved;
the others wait until a commander approves them, as public warning systems require. Internal
feeds always see the current version; only the public feed follows `public_version`.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import Enum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from riskwatch.contracts import Level, MsgType

__all__ = ["Publication", "PublicationRule", "PublicationState", "publication_after_save", "publication_rule"]


class PublicationState(str, Enum):
    public = "public"
    awaiting_approval = "awaiting_approval"


class PublicationRule(str, Enum):
    """How a new version of a warning reaches the public feed."""

    at_once = "at_once"
    """An auto-public level: this version is public as soon as it is saved."""
    if_already_public = "if_already_public"
    """A Cancel: withdrawing a warning the public saw must not wait; one it never saw stays internal."""
    on_approval = "on_approval"
    """Waits for a commander; the public keeps seeing the last approved version."""


class Publication(BaseModel):
    """A warning's public state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warning_id: str
    state: PublicationState
    public_version: int | None = Field(description="Version the public feed shows; None = not public yet")
    approved_by: str | None
    approved_at: AwareDatetime | None


def publication_rule(level: Level, msg_type: MsgType, auto_public_levels: Collection[Level]) -> PublicationRule:
    """The rule for a version at `level` of kind `msg_type` under the city's publication policy."""
    if level in auto_public_levels:
        return PublicationRule.at_once
    if msg_type is MsgType.cancel:
        return PublicationRule.if_already_public
    return PublicationRule.on_approval


def publication_after_save(
    previous: Publication | None, warning_id: str, version: int, rule: PublicationRule
) -> Publication:
    """The publication state once `version` of a warning, published by `rule`, is saved.

    `previous` is the state before (None for a warning never saved). A version that goes public
    replaces whatever was public, without an approver; anything else keeps the last approved
    version and its approval.
    """
    already_public = previous is not None and previous.public_version is not None
    if rule is PublicationRule.at_once or (rule is PublicationRule.if_already_public and already_public):
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

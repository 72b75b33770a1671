"""Response and request bodies of the API (the JSON shapes of the HTTP contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from riskwatch.alerts.disposal.lifecycle import Disposal, Escalation, Transition
from riskwatch.alerts.disposal.publication import Publication, PublicationState
from riskwatch.alerts.store.tokens import Identity
from riskwatch.contracts import Level, MsgType, Source, Warning

__all__ = [
    "ActionRequest",
    "Me",
    "PipelineStatus",
    "PublicationView",
    "TrendPoint",
    "Trends",
    "VersionSummary",
    "WarningDetail",
    "WarningView",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublicationView(_Body):
    """Whether the public feed shows the warning, and at which version."""

    state: PublicationState
    public_version: int | None

    @classmethod
    def of(cls, publication: Publication | None) -> PublicationView:
        """No publication record yet counts as awaiting approval (nothing public)."""
        if publication is None:
            return cls(state=PublicationState.awaiting_approval, public_version=None)
        return cls(state=publication.state, public_version=publication.public_version)


class WarningView(Warning):
    """A warning as a role may see it, with its colour, publication, disposal and map point."""

    department_name: str | None = Field(default=None, description="The responsible department's name (routing.yaml)")
    publication: PublicationView
    disposal: Disposal | None = None
    centroid: tuple[float, float] | None = Field(default=None, description="[lon, lat] of the warning's region")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def colour(self) -> str:
        """red / orange / yellow / blue, as the level's colour."""
        return self.level.colour

    @classmethod
    def build(
        cls,
        warning: Warning,
        *,
        publication: Publication | None,
        disposal: Disposal | None,
        centroid: tuple[float, float] | None,
        **extra: Any,
    ) -> Self:
        """Combine a (possibly masked) warning with what the store knows about its disposal."""
        return cls.model_validate(
            {
                **dict(warning),
                "publication": PublicationView.of(publication),
                "disposal": disposal,
                "centroid": centroid,
                **extra,
            }
        )


class VersionSummary(_Body):
    """One Alert/Update/Cancel message of a warning, for its timeline."""

    version: int
    msg_type: MsgType
    level: Level
    updated_at: AwareDatetime
    score: float
    sources: tuple[Source, ...]

    @classmethod
    def of(cls, warning: Warning) -> VersionSummary:
        return cls(
            version=warning.version,
            msg_type=warning.msg_type,
            level=warning.level,
            updated_at=warning.updated_at,
            score=warning.score,
            sources=warning.sources,
        )


class WarningDetail(WarningView):
    """A warning with its whole timeline: versions, transitions and escalations."""

    transitions: tuple[Transition, ...]
    versions: tuple[VersionSummary, ...]
    escalations: tuple[Escalation, ...]


class ActionRequest(_Body):
    """Why a lifecycle action is taken; recorded with the transition."""

    reason: str = Field(default="", max_length=2000, description="Free text kept with the transition")


class Me(_Body):
    """Who the caller's token belongs to."""

    token_id: str
    name: str
    role: str
    department: str | None

    @classmethod
    def of(cls, identity: Identity) -> Me:
        return cls(
            token_id=identity.token_id, name=identity.name, role=identity.role.value, department=identity.department
        )


class ComponentHealth(_Body):
    """The newest health snapshot one pipeline component wrote."""

    payload: dict[str, Any]
    at: AwareDatetime


class PipelineStatus(_Body):
    """The pipeline's own health, so a quiet screen is not mistaken for a quiet city."""

    components: dict[str, ComponentHealth]
    lag: dict[str, int]
    warming_up: list[str]
    dead_letters_per_min: float
    stale: bool
    store: Literal["available", "unavailable"] = Field(
        default="available",
        description="`unavailable` while the API cannot reach the store (the rest then says nothing)",
    )

    @classmethod
    def store_unavailable(cls) -> PipelineStatus:
        """What is known while the store (which holds the health snapshots) does not answer: nothing."""
        return cls(components={}, lag={}, warming_up=[], dead_letters_per_min=0.0, stale=True, store="unavailable")


class TrendPoint(_Body):
    """Warnings first seen in one time bucket."""

    t: datetime
    count: int


class Trends(_Body):
    """Warning counts per category over time."""

    bucket: Literal["hour", "day"]
    series: dict[str, list[TrendPoint]]
    names: dict[str, str] = Field(default_factory=dict, description="Category code → its Chinese name (taxonomy.yaml)")

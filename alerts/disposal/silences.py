"""Silences: planned work (a street's water maintenance window) that mutes matching warnings.

A silence covers every region whose code starts with `region_prefix`, for the listed
categories (none = every category), from `starts_at` until `ends_at` or until it is expired
by hand, whichever comes first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Silence", "SilenceRequest", "UnknownSilence"]

RegionPrefix = Annotated[
    str, Field(pattern=r"^\d{2,15}$", description="Region code prefix: district (6), street (9), grid (15) digits")
]
CategoryCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Silence(BaseModel):
    """A stored silence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    silence_id: str
    region_prefix: str
    categories: tuple[str, ...] = Field(default=(), description="Empty means every category")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str
    created_by: str
    created_at: AwareDatetime
    expired_at: AwareDatetime | None = Field(default=None, description="Set when expired by hand before ends_at")
    expired_by: str | None = None

    def active_at(self, at: datetime) -> bool:
        """True if the silence is in force at `at`."""
        if self.expired_at is not None and at >= self.expired_at:
            return False
        return self.starts_at <= at < self.ends_at

    def matches(self, region_code: str, category: str, at: datetime) -> bool:
        """True if a warning for this region and category at `at` is muted by this silence."""
        return (
            region_code.startswith(self.region_prefix)
            and (not self.categories or category in self.categories)
            and self.active_at(at)
        )


class SilenceRequest(BaseModel):
    """A silence as a command center asks for it; `starts_at` defaults to now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region_prefix: RegionPrefix
    categories: tuple[CategoryCode, ...] = ()
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime
    reason: Annotated[str, Field(min_length=1, max_length=500)]

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("reason must say why the warnings are muted (e.g. the maintenance work order)")
        return value

    @field_validator("categories")
    @classmethod
    def _unique_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _ends_after_start(self) -> SilenceRequest:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError(
                f"ends_at ({self.ends_at.isoformat()}) must be after starts_at ({self.starts_at.isoformat()})"
            )
        return self


class UnknownSilence(KeyError):
    """No silence has this id."""

    def __init__(self, silence_id: str) -> None:
        self.silence_id = silence_id
        super().__init__(silence_id)

    def __str__(self) -> str:
        return f"no silence with id {self.silence_id!r}"

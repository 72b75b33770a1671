"""Snapshots of the pipeline's own health (consumer lag, warming-up detectors, dead letters).

Each component writes its latest snapshot; the feed shows them so a quiet screen is never
mistaken for a quiet city.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["HealthSnapshot"]


class HealthSnapshot(BaseModel):
    """The latest health report of one component (e.g. 'worker', 'lag')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any]
    at: AwareDatetime

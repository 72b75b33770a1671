"""Tunables of the API process that are not deployment settings (intervals, limits, CAP sender)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ApiOptions(BaseModel):
    """Intervals of the background tasks and a few presentation choices; defaults suit production."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_interval: float = Field(default=1.0, gt=0, description="Seconds between polls of the store for changes")
    health_interval: float = Field(default=10.0, gt=0, description="Seconds between `health` SSE events")
    ping_interval: float = Field(default=15.0, gt=0, description="Seconds between SSE `: ping` comments")
    stale_after: float = Field(
        default=120.0, gt=0, description="Pipeline health older than this many seconds counts as stale"
    )
    subscriber_queue: int = Field(default=1000, ge=1, description="Events buffered per SSE client before it is dropped")
    cap_sender: str = Field(default="riskwatch@city.example", description="CAP <sender> of every message")
    feed_title: str = Field(default="riskwatch 公开预警", description="Title of the public Atom feed")

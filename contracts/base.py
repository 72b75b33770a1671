"""The base of every record that crosses a topic: unknown fields refused, values immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Base for every boundary model: unknown fields are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

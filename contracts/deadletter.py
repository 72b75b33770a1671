"""What could not be read or placed, with the original bytes and why (topic `riskwatch.deadletter`)."""

from __future__ import annotations

import base64
from datetime import datetime

from pydantic import AwareDatetime, Field, field_validator

from riskwatch.contracts.base import Record


class DeadLetter(Record):
    """Anything that could not be read or placed, with the original bytes and why."""

    reason: str
    detail: str
    source_topic: str
    partition: int | None = None
    offset: int | None = None
    original_b64: str = Field(description="The original record's bytes, base64")
    at: AwareDatetime

    @field_validator("detail")
    @classmethod
    def _short_detail(cls, value: str) -> str:
        return value[:2000]

    @classmethod
    def of(
        cls,
        reason: str,
        detail: str,
        original: bytes,
        source_topic: str,
        at: datetime,
        partition: int | None = None,
        offset: int | None = None,
    ) -> DeadLetter:
        return cls(
            reason=reason,
            detail=detail,
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            original_b64=base64.b64encode(original).decode("ascii"),
            at=at,
        )

    @property
    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

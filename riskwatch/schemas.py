"""Records that cross a boundary: raw upstream records, canonical events, signals, warnings.

Every stage (streams → detectors → alerts) imports its types from here, so one module
defines what is on every topic. Timestamps are always timezone-aware.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class Source(str, Enum):
    """Where an event came from."""

    hotline = "hotline"
    police = "police"
    sensor = "sensor"


class _Record(BaseModel):
    """Base for every boundary model: unknown fields are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- raw records


class HotlineRecord(_Record):
    """A 12345 citizen-hotline work order as the hotline system sends it."""

    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    received_at: AwareDatetime
    channel: Literal["phone", "web", "app", "wechat"]
    request_type: Literal["咨询", "求助", "投诉", "举报", "建议"] = "投诉"
    category_text: str = Field(default="", max_length=64, description="Category as the operator typed it")
    content: Annotated[str, Field(min_length=1, max_length=4000)]
    caller_name: str | None = Field(default=None, max_length=64)
    caller_phone: str | None = Field(default=None, max_length=32)
    district_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    street_code: Annotated[str | None, Field(pattern=r"^\d{9}$")] = None
    community_code: Annotated[str | None, Field(pattern=r"^\d{12}$")] = None
    address: str | None = Field(default=None, max_length=256)


class PoliceRecord(_Record):
    """A 110 police incident as the police dispatch system sends it."""

    incident_id: Annotated[str, Field(min_length=1, max_length=64)]
    reported_at: AwareDatetime
    type_code: Annotated[str, Field(min_length=1, max_length=16)]
    address: str = Field(max_length=256)
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    priority: Annotated[int, Field(ge=1, le=4, description="1 = most urgent")]
    caller_phone: str | None = Field(default=None, max_length=32)
    district_code: Annotated[str | None, Field(pattern=r"^\d{6}$")] = None


class SensorRecord(_Record):
    """One reading from an IoT gateway."""

    device_id: Annotated[str, Field(min_length=1, max_length=64)]
    metric: Annotated[str, Field(min_length=1, max_length=32)]
    value: float
    unit: str = Field(max_length=16)
    ts: AwareDatetime
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    grid_code: Annotated[str | None, Field(pattern=r"^\d{15}$")] = None


RAW_MODELS: dict[Source, type[_Record]] = {
    Source.hotline: HotlineRecord,
    Source.police: PoliceRecord,
    Source.sensor: SensorRecord,
}


# --------------------------------------------------------------------------- canonical event


class Event(_Record):
    """One canonical event, whatever its source; personal data already masked."""

    event_id: str = Field(description="Source-qualified id, e.g. 'hotline:GD202611230001'")
    source: Source
    occurred_at: AwareDatetime = Field(description="Event time: when it happened, not when it arrived")
    region_code: str = Field(description="Most specific region known: grid (15), street (9) or district (6)")
    district_code: str
    street_code: str | None = None
    category: str = Field(description="Taxonomy category code")
    metric: str | None = None
    value: float | None = None
    unit: str | None = None
    device_id: str | None = None
    priority: int | None = None
    text: str | None = Field(default=None, description="Free text with personal data masked")
    lat: float | None = None
    lon: float | None = None
    raw_partition: int | None = Field(
        default=None, description="Partition of the raw topic it was read from; lateness is judged per upstream order"
    )


# --------------------------------------------------------------------------- signals


class SignalKind(str, Enum):
    """What a detector saw."""

    anomaly = "anomaly"
    surge = "surge"
    threshold = "threshold"
    burst = "burst"
    health = "health"  # sensor faults: for maintenance, not for the command center


class Signal(_Record):
    """A detector's finding: scored, compared with an expectation and explained."""

    signal_id: str
    detector: str
    kind: SignalKind
    source: Source
    region_code: str
    district_code: str
    category: str
    at: AwareDatetime = Field(description="Event time of the observation that raised it")
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    observed: float
    expected: float | None = None
    reason: str
    hard_rule: str | None = Field(default=None, description="Name of a hard rule that fired, if any")
    evidence: tuple[str, ...] = Field(default=(), description="Event ids behind the signal")


# --------------------------------------------------------------------------- warnings


class Level(str, Enum):
    """Warning levels I (highest) to IV, as the Emergency Response Law grades them."""

    I = "I"  # noqa: E741 - the level's real name
    II = "II"
    III = "III"
    IV = "IV"

    @property
    def colour(self) -> str:
        return _LEVEL_COLOUR[self]

    @property
    def colour_zh(self) -> str:
        return _LEVEL_COLOUR_ZH[self]

    @property
    def label_zh(self) -> str:
        return _LEVEL_LABEL_ZH[self]

    @property
    def cap_severity(self) -> str:
        return _LEVEL_CAP[self]

    @property
    def rank(self) -> int:
        """4 for level I down to 1 for level IV, so a higher rank is more serious."""
        return 4 - list(Level).index(self)


_LEVEL_COLOUR = {Level.I: "red", Level.II: "orange", Level.III: "yellow", Level.IV: "blue"}
_LEVEL_COLOUR_ZH = {Level.I: "红色", Level.II: "橙色", Level.III: "黄色", Level.IV: "蓝色"}
_LEVEL_LABEL_ZH = {Level.I: "特别严重", Level.II: "严重", Level.III: "较重", Level.IV: "一般"}
_LEVEL_CAP = {Level.I: "Extreme", Level.II: "Severe", Level.III: "Moderate", Level.IV: "Minor"}


class MsgType(str, Enum):
    """CAP message types a warning is published as."""

    alert = "Alert"
    update = "Update"
    cancel = "Cancel"


class WarningStatus(str, Enum):
    """Disposal lifecycle states."""

    new = "new"
    dispatched = "dispatched"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    false_alarm = "false_alarm"
    cancelled = "cancelled"


class SignalSummary(_Record):
    """The part of a signal a warning keeps as its evidence."""

    signal_id: str
    detector: str
    kind: SignalKind
    source: Source
    region_code: str
    at: AwareDatetime
    score: float
    observed: float
    expected: float | None
    reason: str


class Warning(_Record):  # noqa: A001 - the domain's own word
    """A graded warning as published on `riskwatch.warnings` and kept in the store."""

    warning_id: str = Field(description="Deterministic: derived from what raised it")
    version: int = Field(ge=1, description="1 for the Alert, +1 for every Update/Cancel")
    msg_type: MsgType
    level: Level
    status: WarningStatus = WarningStatus.new
    region_code: str
    region_name: str
    district_code: str
    category: str
    category_name: str
    title: str
    department: str | None = None
    first_seen: AwareDatetime
    updated_at: AwareDatetime
    score: float
    sources: tuple[Source, ...]
    explanation: tuple[str, ...]
    signals: tuple[SignalSummary, ...]

    @property
    def colour(self) -> str:
        return self.level.colour


# --------------------------------------------------------------------------- dead letters


class DeadLetter(_Record):
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


def stable_id(*parts: Any, length: int = 20) -> str:
    """A short deterministic id from its parts, so replays produce the same ids."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:length]


BOUNDARY_MODELS: dict[str, type[BaseModel]] = {
    "hotline_record": HotlineRecord,
    "police_record": PoliceRecord,
    "sensor_record": SensorRecord,
    "event": Event,
    "signal": Signal,
    "warning": Warning,
    "dead_letter": DeadLetter,
}

"""Graded warnings, their levels and lifecycle states (topic `riskwatch.warnings`)."""

from __future__ import annotations

from enum import Enum

from pydantic import AwareDatetime, Field

from riskwatch.contracts.base import Record
from riskwatch.contracts.raw import Source
from riskwatch.contracts.signal import SignalKind


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


class SignalSummary(Record):
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


class Warning(Record):  # noqa: A001 - the domain's own word
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

"""Readings of a station's channels, one at a time, into rows of one value per channel.

Time is cut into sample periods (aligned to the epoch, so every worker cuts alike). A row holds
each channel's latest reading in one period, NaN for a channel that sent none. A row is closed —
handed to the station model, never changed again — as soon as it is known complete, using only
readings that have arrived:

- when every channel has reported in the period (the usual case: a station's RTU samples all
  channels together), at once;
- otherwise when a reading of a later period arrives: the silent channels stay NaN.

A reading for a period already closed (a late flush) is dropped and counted: replacing a value
the model has scored would make the past depend on the future. Periods in which no channel
reported make no row at all (an all-NaN row tells a model nothing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Row:
    """One closed row: its period's start, one value per channel (NaN for none) and the readings in it."""

    start: datetime
    values: np.ndarray
    evidence: tuple[str, ...]


class RowAssembler:
    """Rows of one station's channels, closed causally (see the module docstring)."""

    def __init__(self, channels: Sequence[str], period: timedelta) -> None:
        if period <= timedelta(0):
            raise ValueError(f"sample period must be positive, got {period}")
        self.channels: tuple[str, ...] = tuple(channels)
        self._index = {name: i for i, name in enumerate(self.channels)}
        self._period_s = period.total_seconds()
        self._open: int | None = None  # period number of the row being filled
        self._values: list[float] = [math.nan] * len(self.channels)
        self._evidence: list[str] = []
        self._closed_through: int | None = None  # last period whose row was closed
        #: Readings dropped because their period's row was already closed.
        self.late = 0

    def _period_of(self, ts: datetime) -> int:
        return math.floor(ts.timestamp() / self._period_s)

    def _start_of(self, period: int) -> datetime:
        return datetime.fromtimestamp(period * self._period_s, tz=UTC)

    def add(self, ts: datetime, channel: str, value: float, event_id: str = "") -> list[Row]:
        """Take one reading; return the rows it closes (none, one, or the previous row and its own)."""
        column = self._index[channel]  # KeyError: not a channel of this station
        period = self._period_of(ts)
        if (self._closed_through is not None and period <= self._closed_through) or (
            self._open is not None and period < self._open
        ):
            self.late += 1
            return []
        closed: list[Row] = []
        if self._open is not None and period > self._open:
            closed.append(self._close())
        if self._open is None:
            self._open = period
        self._values[column] = float(value)
        if event_id:
            self._evidence.append(event_id)
        if not any(math.isnan(v) for v in self._values):
            closed.append(self._close())
        return closed

    def _close(self) -> Row:
        assert self._open is not None
        row = Row(self._start_of(self._open), np.array(self._values, dtype=float), tuple(self._evidence))
        self._closed_through = self._open
        self._open, self._values, self._evidence = None, [math.nan] * len(self.channels), []
        return row

    def get_state(self) -> dict[str, Any]:
        """Plain data: the row being filled and the last closed period."""
        return {
            "open": self._open,
            "values": [None if math.isnan(v) else v for v in self._values],
            "evidence": list(self._evidence),
            "closed_through": self._closed_through,
            "late": self.late,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        values = [math.nan if v is None else float(v) for v in state["values"]]
        if len(values) != len(self.channels):
            raise ValueError(f"saved row has {len(values)} channels, this station has {len(self.channels)}")
        self._open, self._values = state["open"], values
        self._evidence = list(state["evidence"])
        self._closed_through, self.late = state["closed_through"], int(state.get("late", 0))

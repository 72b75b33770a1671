"""Where the store, the deadline checker and the API get "now" from.

Deadlines and escalations depend on time; taking the clock as a parameter lets tests and
simulations move time by hand (`ManualClock`) instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "require_aware"]


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """`value` moved to UTC; a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got the naive {value.isoformat()}")
    return value.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """A source of the current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start, "ManualClock start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (not backward: time in the store never runs back) and return the new now."""
        if delta < timedelta(0):
            raise ValueError(f"ManualClock.advance needs a non-negative delta, got {delta}")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, at: datetime) -> None:
        """Jump to `at` (any direction; tests may rewind on purpose)."""
        at = require_aware(at, "ManualClock.set")
        with self._lock:
            self._now = at

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"

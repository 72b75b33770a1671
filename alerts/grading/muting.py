"""Silences for planned work, as the grader sees them.

The grader only needs to ask a silence whether it covers a region, a category and a moment,
so it codes against this protocol; `riskwatch.alerts.disposal.silences.Silence` (created through the
API, with an expiry) satisfies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class SilenceLike(Protocol):
    """A planned-work window that mutes warnings in matching regions and categories."""

    silence_id: str
    reason: str

    def matches(self, region_code: str, category: str, at: datetime) -> bool: ...


SilenceProvider = Callable[[], Iterable[SilenceLike]]


def no_silences() -> Iterable[SilenceLike]:
    """The provider of a grader that was given none."""
    return ()


def matching_silence(silences: Iterable[SilenceLike], targets: Iterable[tuple[str, str]], at: datetime) -> SilenceLike | None:
    """The first silence (by id, so the choice is stable) matching any (region, category) at `at`."""
    pairs = list(targets)
    hits = [s for s in silences if any(s.matches(region, category, at) for region, category in pairs)]
    return min(hits, key=lambda s: s.silence_id) if hits else None

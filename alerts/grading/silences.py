"""Silences for planned work, as the grader sees them, and the muter that applies them.

The grader only needs to ask a silence whether it covers a region, a category and a moment,
so it codes against this protocol; `riskwatch.alerts.disposal.silences.Silence` (created through the
API, with an expiry) satisfies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol, runtime_checkable

from riskwatch.alerts.grading.batch import Case
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.incidents import Phase
from riskwatch.alerts.grading.mute import Mute


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


class SilenceMuter:
    """Mutes a signal that a silence in force covers, at its own place or its incident's.

    The signal stays evidence but never counts towards the score; a warning already published
    for the incident is cancelled, one not yet published stays unraised. Only open incidents
    are asked about: a resolved or closed one publishes nothing anyway, and keeps counting its
    signals in case it is re-opened. `silences` is called once per signal asked about, so it
    must be cheap (e.g. a cached list the caller refreshes).
    """

    def __init__(self, silences: SilenceProvider = no_silences) -> None:
        self.silences = silences

    def mutes(self, case: Case, context: GradingContext) -> Mute | None:
        signal, incident = case.signal, case.incident
        if signal is None or incident.phase is not Phase.open:
            return None
        targets = [(signal.region_code, signal.category), (incident.street, context.writer.category_of(incident))]
        silence = matching_silence(self.silences(), targets, signal.at)
        if silence is None:
            return None
        return Mute(
            reason=f"处于计划作业静默期（静默规则 {silence.silence_id}：{silence.reason}）",
            note=f"静默规则 {silence.silence_id} 生效期间的信号已吸收，未发预警：{silence.reason}",
            closes=False,
        )

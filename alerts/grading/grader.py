"""The grader: signals in, graded warnings out, through a list of stages over shared incidents.

    fuse → mute (silences) → level → mute (inhibition) → dedup → cover → publish

Each stage is its own module with one signature (`batch.Stage`); their order is the grader's
only logic. Fuse routes each signal to its incident (`fuse`); a silence for planned work mutes
it (`silences`); the level stage counts it and grades the incident (`level`); a higher cause
warning nearby inhibits it (`inhibition`); dedup lets through only an Alert, or an Update when
the level rises, a new source corroborates or a hard rule joins (`dedup`); a warning about to be
published cancels the lower ones it covers (`cover`); publish writes the messages (`publish`).

Command-center feedback runs through the same list: false alarm or cancelled closes the
incident and its Cancel is published; resolved / closed stop Updates without a Cancel. A
repeated signal id changes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from riskwatch.alerts.grading.batch import Batch, Stage, cancel
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.cover import CoverStage
from riskwatch.alerts.grading.dedup import DedupStage
from riskwatch.alerts.grading.fuse import FuseStage
from riskwatch.alerts.grading.incidents import GraderState, Incident, Phase
from riskwatch.alerts.grading.inhibition import InhibitionMuter
from riskwatch.alerts.grading.level import LevelStage
from riskwatch.alerts.grading.mute import MuteStage
from riskwatch.alerts.grading.publish import PublishStage
from riskwatch.alerts.grading.silences import SilenceMuter, SilenceProvider, no_silences
from riskwatch.alerts.grading.wording import STATUS_ZH
from riskwatch.config.detector_params import rule_levels
from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Signal, Warning, WarningStatus

__all__ = ["Grader"]

log = logging.getLogger(__name__)

_CANCELLING = frozenset({WarningStatus.false_alarm, WarningStatus.cancelled})
_SETTLING = frozenset({WarningStatus.resolved, WarningStatus.closed})


class Grader:
    """The grading stages and the incidents they share; turns each input into its messages.

    `silences` is called on every signal that reaches an open incident, for the silences in
    force (planned work); it must be cheap (e.g. a cached list refreshed by the caller).
    """

    def __init__(self, config: CityConfig, regions: RegionIndex | None = None, *, silences: SilenceProvider | None = None) -> None:
        # Hard rules of grading.yaml plus the least levels analysts gave their own rules.
        hard_rules = [*config.grading.hard_rules, *rule_levels(config.detectors, config.taxonomy)]
        self.context = GradingContext.build(config, regions or RegionIndex(config.regions), hard_rules)
        self.stages: list[Stage] = [
            FuseStage(),
            MuteStage(SilenceMuter(silences or no_silences)),
            LevelStage(),
            MuteStage(InhibitionMuter()),
            DedupStage(),
            CoverStage(),
            PublishStage(),
        ]

    def run(self, batch: Batch) -> list[Warning]:
        """Every stage in turn over one batch; the messages to publish, in order."""
        for stage in self.stages:
            batch = stage.process(batch, self.context)
        return list(batch.messages)

    def process(self, signal: Signal) -> list[Warning]:
        """Add a signal to its incident; return every message to publish, in order.

        Sensor-health signals (stuck, flat, silent sensors) are for maintenance: they stay on the
        signals topic and never become a command-center warning.
        """
        return self.run(Batch(signals=(signal,)))

    def grade(self, signal: Signal) -> Warning | None:
        """The first message `process` gives (the signal's own incident), for single-message callers.

        Prefer `process`: it also returns Cancels of warnings the signal's incident inhibits.
        """
        messages = self.process(signal)
        return messages[0] if messages else None

    def apply_feedback(self, warning_id: str, to_status: WarningStatus, *, at: datetime | None = None, reason: str = "") -> list[Warning]:
        """Follow a command-center transition of a warning.

        false_alarm / cancelled close the incident and publish a Cancel (unless one was already
        published); resolved / closed stop further Updates without a Cancel; in_progress after
        resolved re-opens Updates. Later signals within the window are absorbed silently.
        Unknown (e.g. long expired) warnings are ignored.
        """
        incident = self.context.incidents.get(warning_id)
        if incident is None:
            log.debug("feedback for %s ignored: no such incident in memory", warning_id)
            return []
        at = at or incident.last_seen
        why = f"指挥中心标记为{STATUS_ZH[to_status]}（{to_status.value}）" + (f"，说明：{reason}" if reason else "")
        if to_status in _CANCELLING:
            cancelled = cancel(incident, why, at, self.context)
            return self.run(Batch(cases=(cancelled,) if cancelled else ()))
        if to_status in _SETTLING and incident.phase is Phase.open:
            incident.phase, incident.closed_reason = Phase.resolved, why
        elif to_status is WarningStatus.in_progress and incident.phase is Phase.resolved:
            incident.phase, incident.closed_reason = Phase.open, None
        return []

    def expire(self, now: datetime) -> list[str]:
        """Forget incidents whose last signal is older than `incident_idle_close` before `now`.

        No Cancel is published: this only bounds memory. Returns the forgotten warning ids.
        """
        if now.tzinfo is None:
            raise ValueError(f"expire needs a timezone-aware time, got the naive {now.isoformat()}")
        return self.context.incidents.forget_idle(now - self.context.grading.incident_idle_close)

    def incident(self, warning_id: str) -> Incident | None:
        """A copy of what the grader knows about one warning's incident."""
        incident = self.context.incidents.get(warning_id)
        return incident.model_copy(deep=True) if incident else None

    def get_state(self) -> dict[str, Any]:
        """A JSON-safe snapshot of every remembered incident, for `set_state` after a restart."""
        return self.context.incidents.snapshot().model_dump(mode="json")

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace what the grader remembers with a `get_state` snapshot (validated)."""
        self.context.incidents.restore(GraderState.model_validate(state))

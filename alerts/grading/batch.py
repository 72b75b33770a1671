"""What flows through the grading stages: a batch of signals, cases and messages.

Every stage has one signature, `process(batch, context) -> batch`, and a grader is a list of
stages. One input — a signal, or a command-center transition — is one batch: the fuse stage turns
its signals into cases (an incident and the signal that reached it), later stages score, mute
and deduplicate the cases until each carries a `Draft` of the message to publish or is dropped,
and the publish stage turns the drafts into Warning messages, in the batch's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.fusion import Grade
from riskwatch.alerts.grading.incidents import Evidence, Incident, Phase
from riskwatch.contracts import Level, MsgType, Signal, Warning


@dataclass(frozen=True)
class Draft:
    """The message decided for a case: its type, level and the explanation lines that lead it.

    `inhibited_by` is the higher warning a Cancel was caused by; the publish stage lists the
    cancelled warning there, so that warning's later messages name what it inhibits.
    """

    msg_type: MsgType
    level: Level
    lead: tuple[str, ...] = ()
    inhibited_by: Incident | None = None


@dataclass(frozen=True)
class Case:
    """One incident in a batch: the signal that reached it, its grade, and the decided message.

    A case with no draft is still being graded; stages that decide (mute, dedup) give it one
    or drop it, and stages that only grade pass decided cases on untouched.
    """

    incident: Incident
    at: datetime
    signal: Signal | None = None
    evidence: Evidence = Evidence.own
    grade: Grade | None = None
    draft: Draft | None = None


@dataclass(frozen=True)
class Batch:
    """Signals not yet placed in an incident, cases being graded, and messages written so far."""

    signals: tuple[Signal, ...] = ()
    cases: tuple[Case, ...] = ()
    messages: tuple[Warning, ...] = ()


class Stage(Protocol):
    """One step of grading: a batch in, a batch out; shared state lives in the context."""

    def process(self, batch: Batch, context: GradingContext) -> Batch: ...


def cancel(incident: Incident, reason: str, at: datetime, context: GradingContext, *, inhibited_by: Incident | None = None) -> Case | None:
    """Close the incident; a case drafting its Cancel if it was published and not cancelled yet.

    Whatever ends an incident (feedback, a silence, a covering warning) goes through here, so a
    warning is cancelled at most once and its version counts every message.
    """
    if incident.phase is not Phase.closed:
        incident.close(reason)
    if incident.published_level is None or incident.cancel_published:
        return None
    incident.version += 1
    incident.cancel_published = True
    draft = Draft(MsgType.cancel, incident.published_level, (f"预警解除：{reason}",), inhibited_by)
    return Case(incident, at, grade=context.grade(incident), draft=draft)

"""Mute stage: one stage for silences and inhibition, through one `Muter` interface.

A muter looks at a case and says whether, and why, its incident must be muted now: a silence
for planned work (`silences.SilenceMuter`) or a higher warning that covers it
(`inhibition.InhibitionMuter`). The stage applies the answer the same way for both — evidence
note, cover, closing the incident, and a Cancel if its warning was published — so the grader
runs one `MuteStage` per muter, each where its muter has what it needs to decide.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from riskwatch.alerts.grading.batch import Batch, Case, cancel
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.incidents import Incident


@dataclass(frozen=True)
class Mute:
    """Why and how a case's incident is muted.

    `reason` explains the Cancel; `note` is kept on the muted incident as evidence; `cover` is
    the higher warning inhibiting it, and `listed` whether that warning names it as inhibited.
    `closes=False` mutes only the signal at hand (a silence): an incident never published
    stays open for signals after the silence, while a published warning is still cancelled.
    """

    reason: str
    note: str | None = None
    cover: Incident | None = None
    listed: bool = True
    closes: bool = True


class Muter(Protocol):
    """Decides whether a case being graded is muted, and why."""

    def mutes(self, case: Case, context: GradingContext) -> Mute | None: ...


def mute(case: Case, how: Mute, context: GradingContext) -> Case | None:
    """Mute a case's incident; the case drafting its Cancel if one is due, else None."""
    incident = case.incident
    if how.note:
        incident.note(how.note)
    if how.cover is not None:
        incident.covered_by = how.cover.warning_id
    if not how.closes and not incident.published:
        return None
    return cancel(incident, how.reason, case.at, context, inhibited_by=how.cover if how.listed else None)


class MuteStage:
    """Cases still being graded are asked of the muter; a muted one becomes its Cancel or is dropped."""

    def __init__(self, muter: Muter) -> None:
        self.muter = muter

    def process(self, batch: Batch, context: GradingContext) -> Batch:
        cases: list[Case] = []
        for case in batch.cases:
            how = None if case.draft is not None else self.muter.mutes(case, context)
            if how is None:
                cases.append(case)
            elif (cancelled := mute(case, how, context)) is not None:
                cases.append(cancelled)
        return replace(batch, cases=tuple(cases))

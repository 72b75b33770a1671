"""Level stage: count each case's signal towards its incident's score, then grade the incident.

The fused score and the level come from grading.yaml alone (see `fusion`). A case leaves the
batch when nothing can be published for it: its incident is resolved or closed (the signal
is kept, scored, so a re-opened incident resumes with it), no own-group signal has counted
yet (all were silenced), or the score reaches no level and no hard rule fired.
"""

from __future__ import annotations

from dataclasses import replace

from riskwatch.alerts.grading.batch import Batch, Case
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.incidents import Phase


class LevelStage:
    """Cases being graded get their incident's grade; decided cases pass on untouched."""

    def process(self, batch: Batch, context: GradingContext) -> Batch:
        cases: list[Case] = []
        for case in batch.cases:
            if case.draft is not None:
                cases.append(case)
                continue
            incident = case.incident
            if case.signal is not None:
                incident.take_score(case.signal, case.evidence)
            if incident.phase is not Phase.open or not incident.best_by_source:
                continue
            grade = context.grade(incident)
            if grade.level is not None:
                cases.append(replace(case, grade=grade))
        return replace(batch, cases=tuple(cases))

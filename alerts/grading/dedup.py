"""Dedup stage: publish a graded incident only when the command center would learn something.

What was last published for an incident (level, sources, score, hard rules: the `published_*`
fields) is its notification log. An Alert goes out when an incident first reaches a level; an
Update when its level rises, a new source corroborates it, or a hard rule fires that no message
showed yet (the street's own alarm after hotline calls raised the warning). A published level
is never lowered. Anything else is dropped here.
"""

from __future__ import annotations

from dataclasses import replace

from riskwatch.alerts.grading.batch import Batch, Case, Draft
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.wording import level_zh, sources_zh
from riskwatch.contracts import MsgType


class DedupStage:
    """Graded cases with news get an Alert or Update draft and a new version; the rest are dropped."""

    def process(self, batch: Batch, context: GradingContext) -> Batch:
        cases: list[Case] = []
        for case in batch.cases:
            if case.draft is not None:
                cases.append(case)
            elif (draft := self.draft(case)) is not None:
                cases.append(replace(case, draft=draft))
        return replace(batch, cases=tuple(cases))

    @staticmethod
    def draft(case: Case) -> Draft | None:
        """The Alert or Update a graded case calls for, recorded as published; None if no news."""
        incident, grade = case.incident, case.grade
        assert grade is not None and grade.level is not None, "dedup needs a graded case"
        previous = incident.published_level
        level = grade.level if previous is None or grade.level.rank > previous.rank else previous
        new_sources = incident.sources - incident.published_sources
        new_rules = set(incident.hard_rules) - incident.published_rules
        if previous is not None and level is previous and not new_sources and not new_rules:
            return None
        lead: list[str] = []
        if previous is not None and level is not previous:
            lead.append(f"等级由{level_zh(previous)}升至{level_zh(level)}")
        if previous is not None and new_sources:
            lead.append(f"新增来源印证：{sources_zh(new_sources)}")
        if previous is not None and new_rules:
            lead.append(f"新增硬性规则触发：{'、'.join(sorted(new_rules))}")
        incident.version += 1
        incident.published_level, incident.published_sources, incident.published_score = level, incident.sources, grade.score
        incident.published_rules = set(incident.hard_rules)
        return Draft(MsgType.alert if previous is None else MsgType.update, level, tuple(lead))

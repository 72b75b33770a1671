"""Publish stage: every drafted case becomes its Warning message, in the batch's order.

Each message explains itself (see `messages.WarningWriter`). A Cancel caused by a higher
warning is then listed on that warning, after the batch's messages are written: a warning
names the warnings it inhibits from its next message on.
"""

from __future__ import annotations

from dataclasses import replace

from riskwatch.alerts.grading.batch import Batch
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.contracts import Warning


class PublishStage:
    """Drafted cases out, their messages appended to the batch's messages."""

    def process(self, batch: Batch, context: GradingContext) -> Batch:
        messages: list[Warning] = []
        for case in batch.cases:
            if case.draft is None:
                continue  # nothing was decided for it
            assert case.grade is not None, "a drafted case carries its grade"
            draft = case.draft
            messages.append(context.writer.write(case.incident, case.grade, draft.level, draft.msg_type, case.at, list(draft.lead)))
        for case in batch.cases:
            cover = case.draft.inhibited_by if case.draft else None
            if cover is not None and case.incident.published and case.incident.warning_id not in cover.covers:
                cover.covers.append(case.incident.warning_id)
        return replace(batch, cases=(), messages=(*batch.messages, *messages))

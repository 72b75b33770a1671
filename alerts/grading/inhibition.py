"""Inhibition: a higher warning of a cause group covers a lower one of its effect group nearby.

`related_groups` (water → flooding) names which group causes which. An open, published cause
warning on the same or a neighbouring street, whose span comes within the correlation window,
covers an effect incident whose level is below its own: the effect is cancelled, naming the
warning that covers it, and its later signals corroborate the cause (see the fuse stage).

The rule is checked both ways: `InhibitionMuter` mutes an effect being graded under a higher
cause already published, and the cover stage cancels the effects a cause covers once it is
published (`covered_effects`). Both use `covers`, so the two directions cannot disagree.
"""

from __future__ import annotations

from riskwatch.alerts.grading.batch import Case
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.incidents import Incident, Phase
from riskwatch.alerts.grading.mute import Mute
from riskwatch.alerts.grading.wording import level_zh


def covers(cause: Incident, effect: Incident, effect_rank: int, context: GradingContext) -> bool:
    """Whether `cause` is open, published above `effect_rank`, and overlaps `effect` in time."""
    return (
        cause.phase is Phase.open
        and cause.published_level is not None
        and cause.published_level.rank > effect_rank
        and cause.overlaps(effect, context.grading.correlation_window)
    )


def inhibited_by(cause: Incident, context: GradingContext) -> Mute:
    """The mute of a lower warning that the published `cause` covers, with the Cancel's wording."""
    assert cause.published_level is not None
    title = context.writer.title(cause, cause.published_level)
    reason = f"被更高等级预警 {cause.warning_id}（{title}，{level_zh(cause.published_level)}）覆盖，予以抑制"
    return Mute(reason=reason, cover=cause)


class InhibitionMuter:
    """Mutes an incident being graded when a higher cause warning nearby covers it.

    Its level for the comparison is the higher of its new grade and what was already published.
    """

    def mutes(self, case: Case, context: GradingContext) -> Mute | None:
        incident = case.incident
        assert case.grade is not None and case.grade.level is not None, "inhibition needs a graded case"
        rank = max(case.grade.level.rank, incident.published_level.rank if incident.published_level else 0)
        for cause_group in context.grading.causes_of(incident.group):
            for code, _km in context.neighbourhood.reach(incident.street):
                cause = context.incidents.current(code, cause_group)
                if cause is not None and covers(cause, incident, rank, context):
                    return inhibited_by(cause, context)
        return None


def covered_effects(cause: Incident, context: GradingContext) -> list[Incident]:
    """Open effect-group incidents nearby, below the just-published `cause`, that it now covers."""
    found: list[Incident] = []
    for effect_group in context.grading.related_groups.get(cause.group, []):
        for code, _km in context.neighbourhood.reach(cause.street):
            effect = context.incidents.current(code, effect_group)
            rank = effect.published_level.rank if effect and effect.published_level else 0
            if effect is not None and effect.phase is Phase.open and covers(cause, effect, rank, context):
                found.append(effect)
    return found

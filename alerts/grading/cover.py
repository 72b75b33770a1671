"""Cover stage: a warning about to be published cancels the lower warnings it now covers.

Two rules, each a mute with the publishing warning as the cover:
- inhibition (`related_groups`): lower open warnings of its effect groups nearby
  (`inhibition.covered_effects`), which its later messages list as inhibited;
- hierarchy (`absorb_coarser_signals`): a street warning cancels the open district-level
  warning of its group, or of a group it causes, in its district once it has reached that
  warning's level — never showing less than was shown — and keeps an evidence line naming it;
  that warning's later signals join the street one (see the fuse stage).

The Cancels follow the covering warning's own message: effects first, then districts.
"""

from __future__ import annotations

from dataclasses import replace

from riskwatch.alerts.grading.batch import Batch, Case
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.incidents import Phase
from riskwatch.alerts.grading.inhibition import covered_effects, inhibited_by
from riskwatch.alerts.grading.mute import Mute, mute
from riskwatch.contracts import MsgType


class CoverStage:
    """Each Alert or Update draft is followed by the Cancels of the warnings it covers."""

    def process(self, batch: Batch, context: GradingContext) -> Batch:
        cases: list[Case] = []
        for case in batch.cases:
            cases.append(case)
            if case.draft is None or case.draft.msg_type is MsgType.cancel:
                continue
            districts = self.districts(case, context)  # first: the street message notes them
            effects = [
                mute(Case(effect, case.at), inhibited_by(case.incident, context), context)
                for effect in covered_effects(case.incident, context)
            ]
            cases += [c for c in [*effects, *districts] if c is not None]
        return replace(batch, cases=tuple(cases))

    @staticmethod
    def districts(case: Case, context: GradingContext) -> list[Case | None]:
        """Mute the district-level warnings a street warning being published now covers."""
        street = case.incident
        if not context.grading.absorb_coarser_signals or not context.is_street(street.street):
            return []
        region = context.regions.get(street.street)
        assert region is not None and street.published_level is not None
        title = context.writer.title(street, street.published_level)
        window = context.grading.correlation_window
        cancels: list[Case | None] = []
        for group in [street.group, *context.grading.related_groups.get(street.group, [])]:
            coarse = context.incidents.current(region.district_code, group)
            if coarse is None or coarse.phase is not Phase.open or not coarse.overlaps(street, window):
                continue
            if coarse.published_level is not None and coarse.published_level.rank > street.published_level.rank:
                continue  # never show less than was shown: this runs again on the street's Updates
            if coarse.published_level is not None:
                coarse_title = context.writer.title(coarse, coarse.published_level)
                street.note(
                    f"撤销区级预警 {coarse.warning_id}（{coarse_title}）：同一事件已定位到本街道，其后续信号并入本预警"
                )
            reason = (
                f"区级预警已由街道预警 {street.warning_id}（{title}）覆盖："
                f"事件已定位到{context.name(street.street)}，后续区级信号并入该预警"
            )
            cancels.append(mute(Case(coarse, case.at), Mute(reason=reason, cover=street, listed=False), context))
        return cancels

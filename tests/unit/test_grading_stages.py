"""Each grading stage on its own: fuse, mute (silences, inhibition), level, dedup, cover, publish.

The end-to-end behaviour is pinned by test_grading*.py through `Grader`; here each stage gets a
hand-built batch and a fresh context, so a broken stage fails its own tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest

from riskwatch.alerts.grading.batch import Batch, Case, Draft, Stage, cancel
from riskwatch.alerts.grading.context import GradingContext
from riskwatch.alerts.grading.cover import CoverStage
from riskwatch.alerts.grading.dedup import DedupStage
from riskwatch.alerts.grading.fuse import FuseStage
from riskwatch.alerts.grading.grader import Grader
from riskwatch.alerts.grading.incidents import Evidence, Incident, Phase
from riskwatch.alerts.grading.inhibition import InhibitionMuter, covered_effects
from riskwatch.alerts.grading.level import LevelStage
from riskwatch.alerts.grading.mute import Mute, MuteStage
from riskwatch.alerts.grading.publish import PublishStage
from riskwatch.alerts.grading.silences import SilenceMuter
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Level, MsgType, Signal, SignalKind, Source
from tests.factories import T0, signal
from tests.unit.test_grading import CONFIG

STREET = "410105002"  # 金水区花园路街道
NEIGHBOUR = "410105001"  # 金水区经八路街道, 1.9 km away
DISTRICT = "410105"  # 金水区
OTHER_DISTRICT_STREET = "410102001"


def _context(*, absorb: bool = True) -> GradingContext:
    grading = CONFIG.grading.model_copy(update={"absorb_coarser_signals": absorb})
    config = replace(CONFIG, grading=grading)
    return GradingContext.build(config, RegionIndex(config.regions), list(grading.hard_rules))


def _incident(
    context: GradingContext,
    *,
    street: str = STREET,
    group: str = "water",
    published: Level | None = None,
    score: float = 0.9,
    minutes: float = 0,
) -> Incident:
    """An open incident in the context's book with one scored sensor signal, published at `published`."""
    category = context.grading.category_groups[group][0]
    first = signal(Source.sensor, score, minutes, region=street, category=category)
    incident = Incident(warning_id=f"w-{street}-{group}-{minutes}", street=street, group=group, first_seen=first.at, last_seen=first.at)
    incident.add_evidence(first)
    incident.take_score(first, Evidence.own)
    if published is not None:
        incident.published_level, incident.published_sources, incident.version = published, incident.sources, 1
    context.incidents.add(incident)
    return incident


def _graded(context: GradingContext, incident: Incident, new: Signal | None = None) -> Case:
    """A case for `incident` as the level stage leaves it."""
    return Case(incident, (new or incident.recent[-1]).at, new, grade=context.grade(incident))


def _run(stages: list[Stage], batch: Batch, context: GradingContext) -> Batch:
    for stage in stages:
        batch = stage.process(batch, context)
    return batch


# ---------------------------------------------------------------------- fuse


def test_fuse_places_a_signal_in_a_new_incident_as_evidence_only() -> None:
    context = _context()
    first = signal(Source.sensor, 0.95)
    out = FuseStage().process(Batch(signals=(first,)), context)
    [case] = out.cases
    assert out.signals == () and case.signal is first and case.evidence is Evidence.own and case.draft is None
    assert context.incidents.get(case.incident.warning_id) is case.incident
    assert case.incident.street == STREET and case.incident.group == "water"
    assert case.incident.signal_ids == {first.signal_id} and case.incident.best_by_source == {}  # not scored yet
    # The id depends on the street, group and window only: a second context gives the same one.
    [again] = FuseStage().process(Batch(signals=(first,)), _context()).cases
    assert again.incident.warning_id == case.incident.warning_id


def test_fuse_drops_health_signals_and_repeated_ids() -> None:
    context = _context()
    health = signal(Source.sensor, 0.99).model_copy(update={"kind": SignalKind.health})
    assert FuseStage().process(Batch(signals=(health,)), context).cases == ()
    first = signal(Source.sensor, 0.95)
    FuseStage().process(Batch(signals=(first,)), context)
    assert FuseStage().process(Batch(signals=(first,)), context).cases == ()


def test_fuse_joins_a_neighbouring_streets_incident_with_a_note() -> None:
    context = _context()
    existing = _incident(context)
    [case] = FuseStage().process(Batch(signals=(signal(Source.hotline, 0.9, 10, region=NEIGHBOUR),)), context).cases
    assert case.incident is existing and case.evidence is Evidence.own
    assert existing.notes == ["相邻街道 金水区经八路街道（410105001，相距 1.9 km）的信号已并入本事件"]


def test_fuse_sends_an_effect_group_signal_to_the_open_cause_incident() -> None:
    context = _context()
    water = _incident(context)
    [case] = FuseStage().process(Batch(signals=(signal(Source.police, 0.9, 15, category="road_traffic"),)), context).cases
    assert case.incident is water and case.evidence is Evidence.related
    # Once the cause is closed, an effect signal opens an incident of its own group.
    water.close("test")
    [later] = FuseStage().process(Batch(signals=(signal(Source.hotline, 0.9, 20, category="road_traffic"),)), context).cases
    assert later.incident.group == "flooding" and later.evidence is Evidence.own


def test_fuse_sends_signals_of_an_inhibited_incident_to_its_cover() -> None:
    context = _context()
    water = _incident(context, published=Level.II)
    flooding = _incident(context, group="flooding", minutes=1)
    flooding.covered_by = water.warning_id
    [case] = FuseStage().process(Batch(signals=(signal(Source.hotline, 0.9, 5, category="road_traffic"),)), context).cases
    assert case.incident is water and case.evidence is Evidence.related


def test_fuse_gives_a_district_signal_to_a_published_street_incident_below_it() -> None:
    context = _context()
    street = _incident(context)
    district_signal = signal(Source.hotline, 0.9, 20, region=DISTRICT)
    # Not yet published: the district signal opens its own district-level incident.
    [own] = FuseStage().process(Batch(signals=(district_signal,)), context).cases
    assert own.incident.street == DISTRICT and own.evidence is Evidence.own
    street.published_level = Level.III
    [joined] = FuseStage().process(Batch(signals=(signal(Source.police, 0.9, 25, region=DISTRICT),)), context).cases
    assert joined.incident is street and joined.evidence is Evidence.coarser
    # With hierarchical fusion off, the district is graded like a street of its own.
    flat = _context(absorb=False)
    _incident(flat, published=Level.III)
    [alone] = FuseStage().process(Batch(signals=(district_signal,)), flat).cases
    assert alone.incident.street == DISTRICT


# ---------------------------------------------------------------------- mute


@dataclass
class _Always:
    """A muter that mutes every case it is asked about, and remembers which."""

    how: Mute
    asked: list[Case] = field(default_factory=list)

    def mutes(self, case: Case, context: GradingContext) -> Mute | None:
        self.asked.append(case)
        return self.how


def test_mute_stage_turns_a_muted_published_incident_into_its_cancel() -> None:
    context = _context()
    incident = _incident(context, published=Level.III)
    stage = MuteStage(_Always(Mute(reason="why", note="kept as evidence")))
    [case] = stage.process(Batch(cases=(_graded(context, incident),)), context).cases
    assert case.draft == Draft(MsgType.cancel, Level.III, ("预警解除：why",), None)
    assert incident.phase is Phase.closed and incident.closed_reason == "why"
    assert incident.version == 2 and incident.cancel_published
    assert incident.notes == ["kept as evidence"]


def test_mute_stage_closes_an_unpublished_incident_silently_unless_only_the_signal_is_muted() -> None:
    context = _context()
    cover = _incident(context, published=Level.I, minutes=1)
    inhibited = _incident(context, group="flooding")
    muter = MuteStage(_Always(Mute(reason="covered", cover=cover)))
    assert muter.process(Batch(cases=(_graded(context, inhibited),)), context).cases == ()
    assert inhibited.phase is Phase.closed and inhibited.covered_by == cover.warning_id and inhibited.version == 0
    # closes=False (a silence): nothing published, and the incident stays open for later signals.
    silenced = _incident(context, street=NEIGHBOUR)
    assert MuteStage(_Always(Mute(reason="planned", closes=False))).process(Batch(cases=(_graded(context, silenced),)), context).cases == ()
    assert silenced.phase is Phase.open and not silenced.cancel_published


def test_mute_stage_only_asks_about_cases_still_being_graded() -> None:
    context = _context()
    decided = cancel(_incident(context, published=Level.IV), "feedback", T0, context)
    assert decided is not None
    muter = _Always(Mute(reason="never"))
    out = MuteStage(muter).process(Batch(cases=(decided,)), context)
    assert out.cases == (decided,) and muter.asked == []


@dataclass(frozen=True)
class _Silence:
    silence_id: str
    region_prefix: str
    category: str
    reason: str = "planned main replacement"

    def matches(self, region_code: str, category: str, at: datetime) -> bool:
        return region_code.startswith(self.region_prefix) and category == self.category and at < T0 + timedelta(hours=1)


def test_silence_muter_matches_the_signals_place_or_its_incidents_and_picks_the_lowest_id() -> None:
    context = _context()
    incident = _incident(context)
    # The signal came from the neighbour (where no silence is) but its incident is on STREET.
    case = Case(incident, T0, signal(Source.hotline, 0.9, region=NEIGHBOUR), grade=None)
    silences = [_Silence("s2", STREET, "water_supply"), _Silence("s1", STREET, "water_supply"), _Silence("s0", STREET, "gas_supply")]
    how = SilenceMuter(lambda: silences).mutes(case, context)
    assert how == Mute(
        reason="处于计划作业静默期（静默规则 s1：planned main replacement）",
        note="静默规则 s1 生效期间的信号已吸收，未发预警：planned main replacement",
        closes=False,
    )
    assert SilenceMuter(lambda: silences[2:]).mutes(case, context) is None
    late = Case(incident, T0 + timedelta(hours=2), signal(Source.hotline, 0.9, 120), grade=None)
    assert SilenceMuter(lambda: silences).mutes(late, context) is None


def test_silence_muter_leaves_resolved_incidents_alone_without_asking_for_silences() -> None:
    context = _context()
    incident = _incident(context)
    incident.phase = Phase.resolved

    def provider() -> list[_Silence]:
        raise AssertionError("silences asked for a resolved incident")

    assert SilenceMuter(provider).mutes(Case(incident, T0, signal(Source.hotline, 0.9)), context) is None


def test_inhibition_muter_mutes_an_incident_below_a_published_cause_nearby() -> None:
    context = _context()
    water = _incident(context, street=NEIGHBOUR, published=Level.II)
    flooding = _incident(context, group="flooding", score=0.72, minutes=5)
    how = InhibitionMuter().mutes(_graded(context, flooding), context)
    assert how is not None and how.cover is water and how.listed and how.closes
    assert how.reason == f"被更高等级预警 {water.warning_id}（金水区经八路街道供水橙色预警[Ⅱ级/严重]，Ⅱ级）覆盖，予以抑制"
    # Not covered by an equal level, nor by a closed cause.
    water.published_level = Level.III
    assert InhibitionMuter().mutes(_graded(context, flooding), context) is None
    water.published_level = Level.II
    water.close("false alarm")
    assert InhibitionMuter().mutes(_graded(context, flooding), context) is None


def test_inhibition_muter_compares_the_higher_of_grade_and_published_level() -> None:
    context = _context()
    _incident(context, published=Level.III)
    flooding = _incident(context, group="flooding", score=0.62, minutes=5)  # grades IV
    assert InhibitionMuter().mutes(_graded(context, flooding), context) is not None
    flooding.published_level = Level.III
    assert InhibitionMuter().mutes(_graded(context, flooding), context) is None


def test_covered_effects_are_the_lower_open_effect_incidents_nearby() -> None:
    context = _context()
    water = _incident(context, published=Level.II)
    lower = _incident(context, street=NEIGHBOUR, group="flooding", published=Level.IV)
    _incident(context, street=STREET, group="flooding", published=Level.II)  # same level: not covered
    _incident(context, street=OTHER_DISTRICT_STREET, group="flooding")  # another district: not near
    assert covered_effects(water, context) == [lower]


# ---------------------------------------------------------------------- level


def test_level_stage_counts_the_signal_and_grades_the_incident() -> None:
    context = _context()
    [case] = FuseStage().process(Batch(signals=(signal(Source.sensor, 0.95),)), context).cases
    [graded] = LevelStage().process(Batch(cases=(case,)), context).cases
    assert set(case.incident.best_by_source) == {Source.sensor}
    assert graded.grade is not None and graded.grade.level is Level.III and graded.grade.score == 0.83


def test_level_stage_drops_what_cannot_be_published() -> None:
    context = _context()
    [weak] = FuseStage().process(Batch(signals=(signal(Source.hotline, 0.3),)), context).cases
    assert LevelStage().process(Batch(cases=(weak,)), context).cases == ()
    # A resolved incident keeps counting its signals but publishes nothing.
    [case] = FuseStage().process(Batch(signals=(signal(Source.sensor, 0.95, region=NEIGHBOUR),)), context).cases
    case.incident.phase = Phase.resolved
    assert LevelStage().process(Batch(cases=(case,)), context).cases == ()
    assert Source.sensor in case.incident.best_by_source
    # Related-group evidence alone gives no score of the incident's own.
    related_only = Incident(warning_id="r", street=STREET, group="water", first_seen=T0, last_seen=T0)
    flood = signal(Source.police, 0.9, category="road_traffic")
    assert LevelStage().process(Batch(cases=(Case(related_only, T0, flood, Evidence.related),)), context).cases == ()
    assert set(related_only.related_by_source) == {Source.police}


# ---------------------------------------------------------------------- dedup


def test_dedup_drafts_an_alert_then_only_updates_with_news() -> None:
    context = _context()
    incident = _incident(context, score=0.95)
    [alert] = DedupStage().process(Batch(cases=(_graded(context, incident),)), context).cases
    assert alert.draft == Draft(MsgType.alert, Level.III, ())
    assert incident.version == 1 and incident.published_level is Level.III and incident.published_sources == {Source.sensor}
    assert DedupStage().process(Batch(cases=(_graded(context, incident),)), context).cases == ()
    hotline = signal(Source.hotline, 0.9, 10)
    incident.take_score(hotline, Evidence.own)
    [update] = DedupStage().process(Batch(cases=(_graded(context, incident, hotline),)), context).cases
    assert update.draft == Draft(MsgType.update, Level.II, ("等级由Ⅲ级升至Ⅱ级", "新增来源印证：12345热线"))
    assert incident.version == 2


def test_dedup_never_lowers_a_level_and_updates_for_a_new_hard_rule() -> None:
    context = _context()
    incident = _incident(context, score=0.95, published=Level.I)
    rule = signal(Source.sensor, 0.5, 5, hard_rule="alarm_limit")
    incident.take_score(rule, Evidence.own)
    [update] = DedupStage().process(Batch(cases=(_graded(context, incident, rule),)), context).cases
    assert update.draft == Draft(MsgType.update, Level.I, ("新增硬性规则触发：alarm_limit",))
    assert incident.published_rules == {"alarm_limit"}


# ---------------------------------------------------------------------- cover


def test_cover_stage_cancels_the_district_warning_a_street_warning_reaches() -> None:
    context = _context()
    district = _incident(context, street=DISTRICT, published=Level.III)
    street = _incident(context, published=Level.III, minutes=30)
    drafted = Case(street, T0 + timedelta(minutes=30), grade=context.grade(street), draft=Draft(MsgType.alert, Level.III))
    out = CoverStage().process(Batch(cases=(drafted,)), context)
    assert [c.incident for c in out.cases] == [street, district]
    reason = (
        f"区级预警已由街道预警 {street.warning_id}（金水区花园路街道供水黄色预警[Ⅲ级/较重]）覆盖："
        "事件已定位到金水区花园路街道，后续区级信号并入该预警"
    )
    # Not listed as inhibited: the street warning notes it with its own line below.
    assert out.cases[1].draft == Draft(MsgType.cancel, Level.III, (f"预警解除：{reason}",), None)
    assert district.covered_by == street.warning_id and district.phase is Phase.closed
    assert street.notes == [
        f"撤销区级预警 {district.warning_id}（金水区供水黄色预警[Ⅲ级/较重]）：同一事件已定位到本街道，其后续信号并入本预警"
    ]


def test_cover_stage_leaves_a_higher_district_warning_and_ignores_cancels() -> None:
    context = _context()
    district = _incident(context, street=DISTRICT, published=Level.II)
    street = _incident(context, published=Level.III, minutes=30)
    drafted = Case(street, T0, grade=context.grade(street), draft=Draft(MsgType.update, Level.III))
    assert CoverStage().process(Batch(cases=(drafted,)), context).cases == (drafted,)
    assert district.phase is Phase.open
    # A Cancel covers nothing, even of a lower district warning.
    district.published_level = Level.IV
    as_cancel = replace(drafted, draft=Draft(MsgType.cancel, Level.III))
    assert CoverStage().process(Batch(cases=(as_cancel,)), context).cases == (as_cancel,)
    assert district.phase is Phase.open


def test_cover_stage_inhibits_lower_effects_before_it_cancels_districts() -> None:
    context = _context()
    district = _incident(context, street=DISTRICT, published=Level.IV)
    flooding = _incident(context, street=NEIGHBOUR, group="flooding", published=Level.IV, minutes=2)
    water = _incident(context, published=Level.III, minutes=5)
    drafted = Case(water, T0, grade=context.grade(water), draft=Draft(MsgType.alert, Level.III))
    out = CoverStage().process(Batch(cases=(drafted,)), context)
    assert [c.incident for c in out.cases] == [water, flooding, district]
    assert out.cases[1].draft is not None and out.cases[1].draft.inhibited_by is water
    assert flooding.covered_by == water.warning_id and flooding.phase is Phase.closed


# ---------------------------------------------------------------------- publish


def test_publish_writes_the_drafts_in_order_and_lists_inhibited_warnings_afterwards() -> None:
    context = _context()
    water = _incident(context, published=Level.II)
    flooding = _incident(context, group="flooding", published=Level.IV, minutes=2)
    water_case = Case(water, T0, grade=context.grade(water), draft=Draft(MsgType.update, Level.II, ("lead line",)))
    flooding_cancel = cancel(flooding, "covered", T0, context, inhibited_by=water)
    assert flooding_cancel is not None
    undecided = _graded(context, _incident(context, street=NEIGHBOUR))
    out = PublishStage().process(Batch(cases=(water_case, undecided, flooding_cancel)), context)
    assert out.cases == ()
    first, second = out.messages
    assert (first.warning_id, first.msg_type, first.level, first.explanation[0]) == (water.warning_id, MsgType.update, Level.II, "lead line")
    assert (second.warning_id, second.msg_type, second.version) == (flooding.warning_id, MsgType.cancel, 2)
    assert second.explanation[0] == "预警解除：covered"
    # The cover names the inhibited warning from its next message on, not in this one.
    assert not any(flooding.warning_id in line for line in first.explanation)
    assert water.covers == [flooding.warning_id]


# ---------------------------------------------------------------------- the pipeline


def test_grader_is_the_stages_in_order_with_silences_before_scoring_and_inhibition_after() -> None:
    stages = Grader(CONFIG).stages
    assert [type(s) for s in stages] == [FuseStage, MuteStage, LevelStage, MuteStage, DedupStage, CoverStage, PublishStage]
    assert isinstance(stages[1], MuteStage) and isinstance(stages[1].muter, SilenceMuter)
    assert isinstance(stages[3], MuteStage) and isinstance(stages[3].muter, InhibitionMuter)


@pytest.mark.parametrize("index", range(len(Grader(CONFIG).stages)))
def test_every_stage_keeps_an_empty_batch_empty(index: int) -> None:
    grader = Grader(CONFIG)
    assert grader.stages[index].process(Batch(), grader.context) == Batch()


@pytest.mark.parametrize("index", range(len(Grader(CONFIG).stages) - 1))
def test_every_stage_before_publish_passes_a_decided_cancel_on_untouched(index: int) -> None:
    grader = Grader(CONFIG)
    decided = cancel(_incident(grader.context, published=Level.III), "feedback", T0, grader.context)
    assert decided is not None
    before = decided.incident.model_copy(deep=True)
    assert grader.stages[index].process(Batch(cases=(decided,)), grader.context) == Batch(cases=(decided,))
    assert decided.incident == before

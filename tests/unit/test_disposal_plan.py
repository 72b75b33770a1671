"""The disposal stage on its own: routing, dues, publication and cancel decided before the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from riskwatch.alerts.disposal.deadlines import Dues, escalate_missed
from riskwatch.alerts.disposal.lifecycle import Disposal
from riskwatch.alerts.disposal.plan import DisposalPlan, plan_disposal
from riskwatch.alerts.disposal.publication import Publication, PublicationRule, PublicationState
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import Level, MsgType, WarningStatus
from tests.store_contract import make_warning

S = WarningStatus
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROUTING = load_model(DEFAULT_CONFIG_DIR / "routing.yaml", RoutingConfig)


def plan(
    level: Level = Level.III, msg_type: MsgType = MsgType.alert, at: datetime = T0, **overrides: object
) -> DisposalPlan:
    """The plan for `make_warning` at `level` and `msg_type` (any other field overridden), at `at`."""
    return plan_disposal(make_warning(level=level, msg_type=msg_type, **overrides), ROUTING, at)


def test_department_is_the_warnings_own_else_the_routing_tables() -> None:
    assert plan(department="gas_company").department == "gas_company"
    assert plan(department=None, region_code="410105002", category="water_supply").department == "water_group"
    assert plan(department=None, region_code="410105002", category="assistance").department == "jinshui_command"
    assert plan(department=None, region_code="440305007", category="assistance").department == ROUTING.fallback_department


def test_a_new_entry_starts_at_the_first_tier_with_its_levels_dues_from_now() -> None:
    level_i = ROUTING.deadline_for(Level.I)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    planned = plan(Level.I, at=at)
    assert (planned.warning_id, planned.version) == ("w-0001", 1)
    assert planned.at == T0 and planned.at.tzinfo is UTC
    assert planned.tier == ROUTING.escalation_chain[0]
    assert planned.dues == Dues(T0 + level_i.acknowledge, T0 + level_i.resolve)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(at=datetime(2026, 11, 23, 2, 0))


@pytest.mark.parametrize(
    ("level", "msg_type", "rule"),
    [
        (Level.III, MsgType.alert, PublicationRule.at_once),
        (Level.IV, MsgType.cancel, PublicationRule.at_once),
        (Level.I, MsgType.update, PublicationRule.on_approval),
        (Level.II, MsgType.alert, PublicationRule.on_approval),
        (Level.I, MsgType.cancel, PublicationRule.if_already_public),
    ],
    ids=lambda v: getattr(v, "value", v),
)
def test_publication_rule_follows_the_auto_public_levels(level: Level, msg_type: MsgType, rule: PublicationRule) -> None:
    assert plan(level, msg_type).publication is rule


def test_a_level_rise_only_brings_running_dues_forward() -> None:
    first = plan(Level.IV)
    later = T0 + timedelta(minutes=10)
    rise = plan(Level.I, MsgType.update, at=later, version=2)
    level_i = ROUTING.deadline_for(Level.I)
    assert rise.dues_after(first.dues, S.new) == Dues(later + level_i.acknowledge, later + level_i.resolve)
    assert rise.dues_after(first.dues, S.acknowledged) == Dues(first.dues.acknowledge, later + level_i.resolve)
    assert rise.dues_after(first.dues, S.resolved) == first.dues  # nothing left to run
    fall = plan(Level.IV, MsgType.update, at=later, version=3)
    assert fall.dues_after(rise.dues, S.new) == rise.dues  # a lower level never loosens


def test_a_cancel_cancels_only_what_the_lifecycle_still_allows() -> None:
    cancel = plan(msg_type=MsgType.cancel, version=4)
    assert [s for s in S if cancel.cancels(s)] == [S.new, S.dispatched, S.acknowledged, S.in_progress]
    assert cancel.cancel_reason == "Cancel message, version 4"
    assert not any(plan(msg_type=MsgType.update).cancels(s) for s in S)


def test_publication_after_a_save() -> None:
    public_v1 = plan(Level.III).publication_after(None)
    assert public_v1 == Publication(
        warning_id="w-0001", state=PublicationState.public, public_version=1, approved_by=None, approved_at=None
    )
    waiting = plan(Level.I, MsgType.update, version=2).publication_after(public_v1)
    assert (waiting.state, waiting.public_version) == (PublicationState.awaiting_approval, 1)
    withdrawn = plan(Level.I, MsgType.cancel, version=3).publication_after(waiting)
    assert (withdrawn.state, withdrawn.public_version) == (PublicationState.public, 3)
    never = plan(Level.II).publication_after(None)
    assert plan(Level.II, MsgType.cancel, version=2).publication_after(never).public_version is None


def _queued(level: Level, tier_index: int = 0) -> Disposal:
    dues = plan(level).dues
    return Disposal(
        warning_id="w-0001",
        department="water_group",
        tier=ROUTING.escalation_chain[tier_index],
        acknowledge_due=dues.acknowledge,
        resolve_due=dues.resolve,
        acknowledged_at=None,
        resolved_at=None,
        escalations=0,
        raised_at=T0,
    )


def test_a_missed_acknowledge_escalates_one_tier_and_rearms() -> None:
    queued = _queued(Level.I)
    deadline = ROUTING.deadline_for(Level.I)
    assert escalate_missed(ROUTING, queued, S.new, Level.I, queued.acknowledge_due) == (queued, [])  # due, not missed
    now = queued.acknowledge_due + timedelta(seconds=1)
    after, (escalation,) = escalate_missed(ROUTING, queued, S.new, Level.I, now)
    chain = ROUTING.escalation_chain
    assert (escalation.deadline, escalation.due, escalation.tier_from, escalation.tier_to, escalation.at) == (
        "acknowledge",
        queued.acknowledge_due,
        chain[0],
        chain[1],
        now,
    )
    assert (after.tier, after.escalations, after.acknowledge_due, after.resolve_due) == (
        chain[1],
        1,
        now + deadline.acknowledge,
        queued.resolve_due,
    )
    assert escalate_missed(ROUTING, after, S.new, Level.I, now) == (after, [])  # same now: nothing more


def test_both_dues_missed_escalate_twice_and_the_last_tier_stays() -> None:
    queued = _queued(Level.I, tier_index=len(ROUTING.escalation_chain) - 2)
    now = queued.resolve_due + timedelta(seconds=1)
    after, escalations = escalate_missed(ROUTING, queued, S.dispatched, Level.I, now)
    top = ROUTING.escalation_chain[-1]
    assert [(e.deadline, e.tier_to) for e in escalations] == [("acknowledge", top), ("resolve", top)]
    assert (after.tier, after.escalations) == (top, 2)
    acknowledged, escalations = escalate_missed(ROUTING, queued, S.acknowledged, Level.I, now)
    assert [e.deadline for e in escalations] == ["resolve"]
    assert acknowledged.acknowledge_due == queued.acknowledge_due
    assert escalate_missed(ROUTING, queued, S.resolved, Level.I, now) == (queued, [])

"""Deadline arithmetic, publication policy, silences and feedback models, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from riskwatch.alerts.disposal.deadlines import (
    ACKNOWLEDGE_PENDING,
    RESOLVE_PENDING,
    Dues,
    initial_dues,
    rearmed_due,
    tightened_dues,
)
from riskwatch.alerts.disposal.lifecycle import Transition
from riskwatch.alerts.disposal.outcomes import Outcome, outcome_of, resolve_seconds, signals_by_detector
from riskwatch.alerts.disposal.publication import Publication, PublicationState, publication_after_save, publication_rule
from riskwatch.alerts.disposal.silences import Silence, SilenceRequest
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import Feedback, Level, MsgType, WarningStatus

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROUTING = load_model(DEFAULT_CONFIG_DIR / "routing.yaml", RoutingConfig)
AUTO = frozenset(ROUTING.publication.auto_public_levels)


def test_shipped_routing_publishes_iii_and_iv_automatically() -> None:
    assert AUTO == {Level.III, Level.IV}


def test_routing_rejects_a_repeated_level_or_tier() -> None:
    data = ROUTING.model_dump(mode="json")
    with pytest.raises(ValidationError, match="auto_public_levels lists a level more than once"):
        RoutingConfig.model_validate({**data, "publication": {"auto_public_levels": ["III", "III"]}})
    with pytest.raises(ValidationError, match="escalation_chain lists a tier more than once"):
        RoutingConfig.model_validate({**data, "escalation_chain": ["grid", "grid"]})
    with pytest.raises(ValidationError, match="deadlines.I: acknowledge and resolve must be positive"):
        RoutingConfig.model_validate({**data, "deadlines": {**data["deadlines"], "I": {"acknowledge": "PT0S", "resolve": "PT1H"}}})


def test_next_tier_climbs_and_stays_at_the_top() -> None:
    chain = ROUTING.escalation_chain
    assert [ROUTING.next_tier(tier) for tier in chain] == [*chain[1:], chain[-1]]
    assert ROUTING.next_tier("removed_tier") == chain[-1]


def test_dues_start_from_raise_and_only_tighten() -> None:
    iv, i = ROUTING.deadline_for(Level.IV), ROUTING.deadline_for(Level.I)
    dues = initial_dues(ROUTING, Level.IV, T0)
    assert dues == Dues(T0 + iv.acknowledge, T0 + iv.resolve)
    later = T0 + timedelta(minutes=10)
    assert tightened_dues(dues, initial_dues(ROUTING, Level.I, later)) == Dues(later + i.acknowledge, later + i.resolve)
    assert tightened_dues(dues, initial_dues(ROUTING, Level.IV, later)) == dues
    assert rearmed_due(ROUTING, Level.I, "acknowledge", later) == later + i.acknowledge
    assert rearmed_due(ROUTING, Level.I, "resolve", later) == later + i.resolve


def test_which_deadlines_still_run() -> None:
    assert ACKNOWLEDGE_PENDING == {WarningStatus.new, WarningStatus.dispatched}
    assert RESOLVE_PENDING == {
        WarningStatus.new,
        WarningStatus.dispatched,
        WarningStatus.acknowledged,
        WarningStatus.in_progress,
    }


def _published(level: Level, version: int, previous: Publication | None, msg_type: MsgType = MsgType.update) -> Publication:
    return publication_after_save(previous, "w", version, publication_rule(level, msg_type, AUTO))


def test_publication_policy() -> None:
    first = _published(Level.IV, 1, None, MsgType.alert)
    assert (first.state, first.public_version) == (PublicationState.public, 1)
    raised = _published(Level.I, 2, first)
    assert (raised.state, raised.public_version) == (PublicationState.awaiting_approval, 1)
    never = _published(Level.II, 1, None, MsgType.alert)
    assert (never.state, never.public_version) == (PublicationState.awaiting_approval, None)
    # withdrawing a warning the public saw goes out at once, whatever its level
    cancel = _published(Level.I, 3, raised, MsgType.cancel)
    assert (cancel.state, cancel.public_version) == (PublicationState.public, 3)
    # a Cancel of a never-public warning stays internal
    assert _published(Level.I, 2, never, MsgType.cancel).public_version is None


def test_silence_request_validation() -> None:
    ends = T0 + timedelta(hours=1)
    with pytest.raises(ValidationError, match=r"ends_at .* must be after starts_at"):
        SilenceRequest(region_prefix="410105", starts_at=ends, ends_at=T0, reason="x")
    with pytest.raises(ValidationError, match="reason must say why"):
        SilenceRequest(region_prefix="410105", ends_at=ends, reason="   ")
    with pytest.raises(ValidationError, match="region_prefix"):
        SilenceRequest(region_prefix="41a", ends_at=ends, reason="x")
    with pytest.raises(ValidationError, match="timezone"):
        SilenceRequest(region_prefix="410105", ends_at=datetime(2026, 11, 23), reason="x")
    request = SilenceRequest(region_prefix="410105", categories=("gas_supply", "gas_supply"), ends_at=ends, reason=" 检修 ")
    assert (request.categories, request.reason) == (("gas_supply",), "检修")


def test_silence_window_is_half_open_and_ends_when_expired() -> None:
    silence = Silence(
        silence_id="s",
        region_prefix="410105",
        categories=(),
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        reason="x",
        created_by="a",
        created_at=T0,
    )
    assert silence.matches("410105002", "anything", T0)
    assert not silence.matches("410105002", "anything", T0 - timedelta(seconds=1))
    assert not silence.matches("410105002", "anything", T0 + timedelta(hours=2))
    expired = silence.model_copy(update={"expired_at": T0 + timedelta(hours=1)})
    assert expired.matches("410105", "x", T0 + timedelta(minutes=59))
    assert not expired.matches("410105", "x", T0 + timedelta(hours=1))


def test_feedback_of_a_transition() -> None:
    transition = Transition(
        warning_id="w",
        from_status=WarningStatus.acknowledged,
        to_status=WarningStatus.resolved,
        actor="王工",
        role="operator",
        reason="修复",
        at=T0,
    )
    feedback = Feedback.of(transition, "resolve")
    assert feedback.model_dump() == {**transition.model_dump(), "action": "resolve"}
    assert Feedback.model_validate_json(feedback.model_dump_json()) == feedback
    assert feedback.feedback_id == Feedback.of(transition, "resolve").feedback_id
    assert feedback.feedback_id != Feedback.of(transition.model_copy(update={"at": T0 + timedelta(seconds=1)}), "resolve").feedback_id


def test_outcomes() -> None:
    assert outcome_of(WarningStatus.resolved) is outcome_of(WarningStatus.closed) is Outcome.true_alarm
    assert outcome_of(WarningStatus.false_alarm) is Outcome.false_alarm
    assert outcome_of(WarningStatus.acknowledged) is None and outcome_of(WarningStatus.cancelled) is None
    signals = [
        {"detector": "a", "signal_id": "1"},
        {"detector": "b", "signal_id": "2"},
        {"detector": "a", "signal_id": "3"},
        {"detector": "a", "signal_id": "1"},
    ]
    assert signals_by_detector(signals) == {"a": ["1", "3"], "b": ["2"]}
    assert resolve_seconds(T0, T0 + timedelta(minutes=2)) == 120.0
    assert resolve_seconds(None, T0) is None

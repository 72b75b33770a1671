"""The lifecycle state machine and the clocks, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from riskwatch.alerts.disposal.clock import Clock, ManualClock, SystemClock
from riskwatch.alerts.disposal.lifecycle import (
    ACTIONS,
    ALLOWED_TRANSITIONS,
    TERMINAL,
    IllegalTransition,
    UnknownAction,
    action_for,
    allowed_targets,
    check_transition,
)
from riskwatch.contracts import WarningStatus as S


def test_the_transition_table_is_the_documented_one() -> None:
    assert {current: set(targets) for current, targets in ALLOWED_TRANSITIONS.items()} == {
        S.new: {S.dispatched, S.acknowledged, S.false_alarm, S.cancelled},
        S.dispatched: {S.acknowledged, S.false_alarm, S.cancelled},
        S.acknowledged: {S.in_progress, S.resolved, S.false_alarm, S.cancelled},
        S.in_progress: {S.resolved, S.false_alarm, S.cancelled},
        S.resolved: {S.closed, S.in_progress},
        S.closed: set(),
        S.false_alarm: set(),
        S.cancelled: set(),
    }
    assert TERMINAL == {S.closed, S.false_alarm, S.cancelled}


def test_every_status_is_reachable_from_new() -> None:
    seen, frontier = {S.new}, [S.new]
    while frontier:
        for target in ALLOWED_TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(S)


def test_actions_name_every_target() -> None:
    assert dict(ACTIONS) == {
        "dispatch": S.dispatched,
        "acknowledge": S.acknowledged,
        "start": S.in_progress,
        "resolve": S.resolved,
        "close": S.closed,
        "false_alarm": S.false_alarm,
        "cancel": S.cancelled,
    }
    assert {action_for(status) for status in set(S) - {S.new}} == set(ACTIONS)


@pytest.mark.parametrize(
    ("current", "target"), [(c, t) for c in S for t in S if t not in ALLOWED_TRANSITIONS[c]], ids=str
)
def test_every_other_move_is_illegal(current: S, target: S) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition("w-1", current, target)
    assert (caught.value.warning_id, caught.value.current, caught.value.target) == ("w-1", current, target)
    assert caught.value.allowed == tuple(allowed_targets(current))


def test_illegal_transition_message_names_where_it_may_go() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition("3f2a9c", S.acknowledged, S.dispatched)
    assert str(caught.value) == (
        "warning 3f2a9c is acknowledged: cannot go to dispatched (allowed: in_progress, resolved, false_alarm, cancelled)"
    )
    with pytest.raises(IllegalTransition, match=r"is closed: cannot go to in_progress \(allowed: none, closed is final\)"):
        check_transition("3f2a9c", S.closed, S.in_progress)


def test_unknown_action_message() -> None:
    assert str(UnknownAction("ack")) == (
        "unknown action 'ack': expected one of dispatch, acknowledge, start, resolve, close, false_alarm, cancel"
    )


def test_manual_clock_moves_only_when_told() -> None:
    start = datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    clock = ManualClock(start)
    assert isinstance(clock, Clock)
    assert clock.now() == start and clock.now().tzinfo is UTC
    assert clock.advance(timedelta(minutes=5)) == start + timedelta(minutes=5) == clock.now()
    clock.set(start - timedelta(days=1))
    assert clock.now() == start - timedelta(days=1)
    with pytest.raises(ValueError, match="non-negative"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="naive"):
        ManualClock(datetime(2026, 11, 23))
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2026, 11, 23))


def test_system_clock_is_aware_utc() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert now.tzinfo is UTC and now >= before

"""Deadline arithmetic of the disposal queue: when a warning is due, and what a missed due does.

Pure functions over the routing config. A warning's dues start at "raised + the level's
deadlines"; a later version can only bring them forward (`tightened_dues`); a missed due
escalates one tier along `routing.escalation_chain` and is re-armed one deadline later, so a
warning still ignored escalates again (`escalate_missed`). The store applies the results
inside its transactions, under the rows' locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from riskwatch.alerts.disposal.lifecycle import Disposal, Escalation
from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import Level, WarningStatus

__all__ = [
    "ACKNOWLEDGE_PENDING",
    "RESOLVE_PENDING",
    "DeadlineKind",
    "Dues",
    "escalate_missed",
    "initial_dues",
    "rearmed_due",
    "tightened_dues",
]

DeadlineKind = Literal["acknowledge", "resolve"]

ACKNOWLEDGE_PENDING: frozenset[WarningStatus] = frozenset({WarningStatus.new, WarningStatus.dispatched})
"""Statuses in which the acknowledge deadline still runs."""

RESOLVE_PENDING: frozenset[WarningStatus] = frozenset(WarningStatus) - {
    WarningStatus.resolved,
    WarningStatus.closed,
    WarningStatus.false_alarm,
    WarningStatus.cancelled,
}
"""Statuses in which the resolve deadline still runs."""


@dataclass(frozen=True)
class Dues:
    acknowledge: datetime
    resolve: datetime


def initial_dues(routing: RoutingConfig, level: Level, raised_at: datetime) -> Dues:
    """Dues of a warning raised at `raised_at` with `level`."""
    deadline = routing.deadline_for(level)
    return Dues(acknowledge=raised_at + deadline.acknowledge, resolve=raised_at + deadline.resolve)


def tightened_dues(current: Dues, proposed: Dues) -> Dues:
    """Dues after a new version proposes `proposed` (its level's deadlines from now): never later.

    A level rise gives shorter deadlines counted from now, which win when they are earlier; a
    same or lower level leaves the dues as they were.
    """
    return Dues(
        acknowledge=min(current.acknowledge, proposed.acknowledge),
        resolve=min(current.resolve, proposed.resolve),
    )


def rearmed_due(routing: RoutingConfig, level: Level, kind: DeadlineKind, now: datetime) -> datetime:
    """The next due after a missed `kind` deadline was escalated at `now`."""
    deadline = routing.deadline_for(level)
    return now + (deadline.acknowledge if kind == "acknowledge" else deadline.resolve)


def escalate_missed(
    routing: RoutingConfig, disposal: Disposal, status: WarningStatus, level: Level, now: datetime
) -> tuple[Disposal, list[Escalation]]:
    """The escalations of every due `disposal` has missed at `now`, and the disposal after them.

    An acknowledge due is missed while the warning is new or dispatched; a resolve due while
    it is not yet resolved, closed, a false alarm or cancelled. Each miss moves the warning one
    tier up the escalation chain (staying at the last) and re-arms that due one deadline after
    `now`, so the same `now` never escalates the same due twice.
    """
    checks: tuple[tuple[DeadlineKind, frozenset[WarningStatus]], ...] = (
        ("acknowledge", ACKNOWLEDGE_PENDING),
        ("resolve", RESOLVE_PENDING),
    )
    escalations: list[Escalation] = []
    for kind, pending in checks:
        due = disposal.acknowledge_due if kind == "acknowledge" else disposal.resolve_due
        if status not in pending or not due < now:
            continue
        tier_to = routing.next_tier(disposal.tier)
        escalations.append(
            Escalation(
                warning_id=disposal.warning_id, deadline=kind, due=due, tier_from=disposal.tier, tier_to=tier_to, at=now
            )
        )
        disposal = disposal.model_copy(
            update={
                "tier": tier_to,
                "escalations": disposal.escalations + 1,
                f"{kind}_due": rearmed_due(routing, level, kind, now),
            }
        )
    return disposal, escalations

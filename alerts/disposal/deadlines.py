"""Deadline arithmetic of the disposal queue: when a warning is due, and when it is overdue.

Pure functions over the routing config; the store applies them inside its transactions.
A warning's dues start at "raised + the level's deadlines"; a level rise can only bring them
forward; a missed due escalates one tier along `routing.escalation_chain` and is re-armed
one deadline later, so a warning still ignored escalates again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import Level, WarningStatus

__all__ = [
    "ACKNOWLEDGE_PENDING",
    "RESOLVE_PENDING",
    "DeadlineKind",
    "Dues",
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


def tightened_dues(routing: RoutingConfig, level: Level, current: Dues, now: datetime) -> Dues:
    """Dues after a new version at `level` arrives at `now`: never later than they were.

    A level rise gives shorter deadlines counted from now, which wins when it is earlier; a
    same or lower level leaves the dues as they were.
    """
    deadline = routing.deadline_for(level)
    return Dues(
        acknowledge=min(current.acknowledge, now + deadline.acknowledge),
        resolve=min(current.resolve, now + deadline.resolve),
    )


def rearmed_due(routing: RoutingConfig, level: Level, kind: DeadlineKind, now: datetime) -> datetime:
    """The next due after a missed `kind` deadline was escalated at `now`."""
    deadline = routing.deadline_for(level)
    return now + (deadline.acknowledge if kind == "acknowledge" else deadline.resolve)

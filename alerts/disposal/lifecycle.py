"""The disposal lifecycle as a state machine, and the records it leaves behind.

`new → dispatched → acknowledged → in_progress → resolved → closed`, with `false_alarm` and
`cancelled` as exits. Only the moves in `ALLOWED_TRANSITIONS` are legal; anything else raises
`IllegalTransition`, whose message says where the warning is, where it was asked to go and
where it may go instead. The store applies transitions; this module only decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from riskwatch.contracts import Transition, WarningStatus

__all__ = [
    "ACTIONS",
    "ALLOWED_TRANSITIONS",
    "TERMINAL",
    "Disposal",
    "Escalation",
    "IllegalTransition",
    "Transition",
    "UnknownAction",
    "UnknownWarning",
    "action_for",
    "allowed_targets",
    "check_transition",
    "is_open",
]

S = WarningStatus

ALLOWED_TRANSITIONS: Mapping[WarningStatus, frozenset[WarningStatus]] = MappingProxyType(
    {
        S.new: frozenset({S.dispatched, S.acknowledged, S.false_alarm, S.cancelled}),
        S.dispatched: frozenset({S.acknowledged, S.false_alarm, S.cancelled}),
        S.acknowledged: frozenset({S.in_progress, S.resolved, S.false_alarm, S.cancelled}),
        S.in_progress: frozenset({S.resolved, S.false_alarm, S.cancelled}),
        S.resolved: frozenset({S.closed, S.in_progress}),  # in_progress = re-opened
        S.closed: frozenset(),
        S.false_alarm: frozenset(),
        S.cancelled: frozenset(),
    }
)

TERMINAL: frozenset[WarningStatus] = frozenset(s for s, targets in ALLOWED_TRANSITIONS.items() if not targets)

ACTIONS: Mapping[str, WarningStatus] = MappingProxyType(
    {
        "dispatch": S.dispatched,
        "acknowledge": S.acknowledged,
        "start": S.in_progress,
        "resolve": S.resolved,
        "close": S.closed,
        "false_alarm": S.false_alarm,
        "cancel": S.cancelled,
    }
)

_ACTION_OF = {status: action for action, status in ACTIONS.items()}


def allowed_targets(current: WarningStatus) -> list[WarningStatus]:
    """Where a warning in `current` may go, in lifecycle order."""
    targets = ALLOWED_TRANSITIONS[WarningStatus(current)]
    return [status for status in WarningStatus if status in targets]


def action_for(target: WarningStatus) -> str:
    """The action name (as in `ACTIONS`) that leads to `target`."""
    return _ACTION_OF[WarningStatus(target)]


class IllegalTransition(ValueError):
    """A transition the lifecycle does not allow from the warning's current status."""

    def __init__(self, warning_id: str, current: WarningStatus, target: WarningStatus) -> None:
        self.warning_id = warning_id
        self.current = WarningStatus(current)
        self.target = WarningStatus(target)
        self.allowed: tuple[WarningStatus, ...] = tuple(allowed_targets(self.current))
        allowed = ", ".join(s.value for s in self.allowed) or f"none, {self.current.value} is final"
        super().__init__(
            f"warning {warning_id} is {self.current.value}: cannot go to {self.target.value} (allowed: {allowed})"
        )


class UnknownWarning(KeyError):
    """No warning with this id is in the store."""

    def __init__(self, warning_id: str) -> None:
        self.warning_id = warning_id
        super().__init__(warning_id)

    def __str__(self) -> str:
        return f"no warning {self.warning_id!r} in the store"


class UnknownAction(KeyError):
    """An action name that is not one of `ACTIONS`."""

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(action)

    def __str__(self) -> str:
        return f"unknown action {self.action!r}: expected one of {', '.join(ACTIONS)}"


def check_transition(warning_id: str, current: WarningStatus, target: WarningStatus) -> None:
    """Return if `current → target` is legal, else raise `IllegalTransition`."""
    if WarningStatus(target) not in ALLOWED_TRANSITIONS[WarningStatus(current)]:
        raise IllegalTransition(warning_id, current, target)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Escalation(_Record):
    """A missed deadline and the tier the warning was escalated to."""

    warning_id: str
    deadline: Literal["acknowledge", "resolve"]
    due: AwareDatetime = Field(description="The deadline that was missed")
    tier_from: str
    tier_to: str
    at: AwareDatetime = Field(description="When the miss was noticed and escalated")


class Disposal(_Record):
    """Who handles a warning, at which escalation tier, and by when."""

    warning_id: str
    department: str | None
    tier: str = Field(description="An entry of routing.escalation_chain")
    acknowledge_due: AwareDatetime
    resolve_due: AwareDatetime
    acknowledged_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    escalations: int = Field(ge=0)
    raised_at: AwareDatetime | None = Field(default=None, description="When the store first saw the warning")


def is_open(status: WarningStatus) -> bool:
    """True while someone still has to act on the warning."""
    return WarningStatus(status) not in TERMINAL

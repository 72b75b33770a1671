"""The disposal stage: what the queue does with a new version of a warning, decided before the store.

`plan_disposal(warning, routing, now)` is pure. It decides the department (the warning's own,
else `routing.yaml`'s region × category table), the escalation tier a new queue entry starts
at, the dues this version asks for (its level's deadlines counted from `now`), how the version
reaches the public feed, and whether it cancels the warning. The store persists the plan in
the same transaction as the version, and only for a new current version: a replayed or older
version changes nothing.

What depends on the stored state is settled by the plan's own methods, which the store calls
under its row locks: the department, tier and start time only apply to a warning entering the
queue; a later version only brings dues forward, and only those still running
(`dues_after`); a Cancel cancels only what the lifecycle still allows (`cancels`); a version
waiting for approval leaves the public on the last approved one (`publication_after`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from riskwatch.alerts.disposal.clock import require_aware
from riskwatch.alerts.disposal.deadlines import ACKNOWLEDGE_PENDING, RESOLVE_PENDING, Dues, initial_dues, tightened_dues
from riskwatch.alerts.disposal.lifecycle import ALLOWED_TRANSITIONS
from riskwatch.alerts.disposal.publication import Publication, PublicationRule, publication_after_save, publication_rule
from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import MsgType, Warning, WarningStatus

__all__ = ["SYSTEM_ACTOR", "DisposalPlan", "plan_disposal"]

SYSTEM_ACTOR = "system"
"""Actor and role of the moves the pipeline makes itself (a Cancel message)."""


@dataclass(frozen=True)
class DisposalPlan:
    """The disposal queue's decisions for one version of one warning."""

    warning_id: str
    version: int
    at: datetime
    """When the version enters the queue: a new entry's raise time, and where the dues count from."""
    department: str
    """Who handles the warning, for a warning entering the queue."""
    tier: str
    """The escalation tier a warning entering the queue starts at."""
    dues: Dues
    """The dues this version asks for: its level's deadlines from `at`."""
    publication: PublicationRule
    cancel: bool
    """True for a Cancel message: the warning is cancelled if it is still open."""

    def dues_after(self, current: Dues, status: WarningStatus) -> Dues:
        """A queued warning's dues once this version is saved: each still running one only moves earlier."""
        tightened = tightened_dues(current, self.dues)
        return Dues(
            acknowledge=tightened.acknowledge if status in ACKNOWLEDGE_PENDING else current.acknowledge,
            resolve=tightened.resolve if status in RESOLVE_PENDING else current.resolve,
        )

    def cancels(self, status: WarningStatus) -> bool:
        """True if this version cancels a warning that is `status` now (the lifecycle must allow it)."""
        return self.cancel and WarningStatus.cancelled in ALLOWED_TRANSITIONS[WarningStatus(status)]

    @property
    def cancel_reason(self) -> str:
        """Why the system cancelled the warning, as its transition records it."""
        return f"Cancel message, version {self.version}"

    def publication_after(self, previous: Publication | None) -> Publication:
        """What the public may see once this version is saved, given what it could see before."""
        return publication_after_save(previous, self.warning_id, self.version, self.publication)


def plan_disposal(warning: Warning, routing: RoutingConfig, now: datetime) -> DisposalPlan:
    """Route a warning version: department, first tier, dues from `now`, publication and cancel."""
    at = require_aware(now, "plan_disposal now")
    return DisposalPlan(
        warning_id=warning.warning_id,
        version=warning.version,
        at=at,
        department=warning.department or routing.department_for(warning.region_code, warning.category),
        tier=routing.escalation_chain[0],
        dues=initial_dues(routing, warning.level, at),
        publication=publication_rule(warning.level, warning.msg_type, routing.publication.auto_public_levels),
        cancel=warning.msg_type is MsgType.cancel,
    )

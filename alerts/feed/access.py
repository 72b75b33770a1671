"""The access policy in one place: what each role may read and do, and what it sees.

- commander: everything, unmasked.
- operator: the warnings of its own department, unmasked; may transition them.
- analyst: every warning, with personal data redacted from free text and evidence locations
  coarsened to street; no transitions, no approvals.
- public: only the CAP/Atom feed of public warnings, at district level, worded from the
  warning's structured fields (its free text names streets and people).

Routes ask this module and never test roles themselves, so the policy can be read and
tested as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskwatch.alerts.disposal.lifecycle import Transition
from riskwatch.alerts.disposal.silences import Silence
from riskwatch.alerts.feed.redaction import redact
from riskwatch.alerts.store.tokens import Identity, Role
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import MsgType, SignalSummary, Warning

STREET_CODE_LENGTH = 9
DISTRICT_CODE_LENGTH = 6

INTERNAL_ROLES = frozenset({Role.commander, Role.operator, Role.analyst})


@dataclass(frozen=True)
class Decision:
    """Whether something is allowed, and if not, why (shown to the caller and audited)."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


_ALLOW = Decision(True)


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


def may_use_internal_api(identity: Identity) -> Decision:
    """Every /api route except /api/me needs an internal role."""
    if identity.role in INTERNAL_ROLES:
        return _ALLOW
    return _deny(f"role {identity.role.value} may only read the public CAP/Atom feed under /cap")


def may_read_warning(identity: Identity, department: str | None) -> Decision:
    """Commanders and analysts read every warning; operators only their department's."""
    if identity.role in (Role.commander, Role.analyst):
        return _ALLOW
    if identity.role is Role.operator:
        if identity.department is not None and identity.department == department:
            return _ALLOW
        return _deny(
            f"operator of department {identity.department!r} may not read a warning of department {department!r}"
        )
    return may_use_internal_api(identity)


def may_change_warnings(identity: Identity) -> Decision:
    """Only commanders and operators change a warning's status at all.

    Checked before the warning is looked up, so a role that may never act learns nothing
    (not even whether the warning exists) from trying.
    """
    if identity.role in (Role.commander, Role.operator):
        return _ALLOW
    return _deny(f"role {identity.role.value} may not change a warning's status")


def may_transition(identity: Identity, department: str | None) -> Decision:
    """Commanders transition any warning; operators only their department's; nobody else."""
    if identity.role is Role.commander:
        return _ALLOW
    if identity.role is Role.operator:
        if identity.department is not None and identity.department == department:
            return _ALLOW
        return _deny(
            f"operator of department {identity.department!r} may not act on a warning of department {department!r}"
        )
    return _deny(f"role {identity.role.value} may not change a warning's status")


def may_approve(identity: Identity) -> Decision:
    """Only a commander releases a warning to the public feed."""
    if identity.role is Role.commander:
        return _ALLOW
    return _deny(f"only a commander may approve a warning for the public feed, not role {identity.role.value}")


def may_change_silences(identity: Identity) -> Decision:
    """Only a commander creates or ends silences (they hide warnings from everyone)."""
    if identity.role is Role.commander:
        return _ALLOW
    return _deny(f"only a commander may create or end silences, not role {identity.role.value}")


def may_read_audit(identity: Identity) -> Decision:
    """Only a commander reads the audit log."""
    if identity.role is Role.commander:
        return _ALLOW
    return _deny(f"only a commander may read the audit log, not role {identity.role.value}")


def sees_personal_data(identity: Identity | None) -> bool:
    """True for the roles shown warnings unmasked; each such read of a detail is audited."""
    return identity is not None and identity.role in (Role.commander, Role.operator)


def _street_of(region_code: str) -> str:
    return region_code[:STREET_CODE_LENGTH] if len(region_code) > STREET_CODE_LENGTH else region_code


def _coarsen_signal(signal: SignalSummary, region_code: str) -> SignalSummary:
    return signal.model_copy(update={"region_code": region_code, "reason": redact(signal.reason)})


def mask_for_analyst(warning: Warning, regions: RegionIndex) -> Warning:
    """Free text redacted; the warning's and its evidence's regions coarsened to street level."""
    region_code = _street_of(warning.region_code)
    info = regions.get(region_code)
    return warning.model_copy(
        update={
            "region_code": region_code,
            "region_name": regions.full_name(region_code) if info is not None else warning.region_name,
            "title": redact(warning.title),
            "explanation": tuple(redact(line) for line in warning.explanation),
            "signals": tuple(_coarsen_signal(s, _street_of(s.region_code)) for s in warning.signals),
        }
    )


def public_title(warning: Warning, district_name: str) -> str:
    """A headline naming only the district: 金水区供水黄色预警[III级/较重]."""
    level = warning.level
    return f"{district_name}{warning.category_name}{level.colour_zh}预警[{level.value}级/{level.label_zh}]"


def public_description(warning: Warning, district_name: str) -> tuple[str, ...]:
    """What the public is told, built from structured fields only.

    The internal title and explanation name streets, grids, devices and callers' words; none of
    that may reach the public, so nothing of that free text is reused here.
    """
    level = warning.level
    if warning.msg_type is MsgType.cancel:
        return (f"{district_name}{warning.category_name}{level.colour_zh}预警解除。",)
    return (
        f"{district_name}出现{warning.category_name}异常，经 {len(warning.sources)} 类信息来源印证，"
        f"发布{level.colour_zh}预警（{level.value}级/{level.label_zh}）。",
    )


def mask_for_public(warning: Warning, regions: RegionIndex) -> Warning:
    """District-level area only; title and description rebuilt from structured fields; no evidence."""
    district = warning.district_code
    info = regions.get(district)
    district_name = info.name if info is not None else district
    return warning.model_copy(
        update={
            "region_code": district,
            "region_name": district_name,
            "title": public_title(warning, district_name),
            "explanation": public_description(warning, district_name),
            "signals": (),
        }
    )


def transition_as_seen(transition: Transition, identity: Identity | None) -> Transition:
    """A transition with its free-text reason redacted for roles that must not see personal data."""
    if sees_personal_data(identity):
        return transition
    return transition.model_copy(update={"reason": redact(transition.reason)})


def silence_as_seen(silence: Silence, identity: Identity | None) -> Silence:
    """A silence with its free-text reason redacted for roles that must not see personal data."""
    if sees_personal_data(identity):
        return silence
    return silence.model_copy(update={"reason": redact(silence.reason)})


def view_of(warning: Warning, identity: Identity | None, regions: RegionIndex) -> Warning:
    """The warning as `identity` may see it (None = an anonymous public reader)."""
    if sees_personal_data(identity):
        return warning
    if identity is not None and identity.role is Role.analyst:
        return mask_for_analyst(warning, regions)
    return mask_for_public(warning, regions)

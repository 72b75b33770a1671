"""The warning store: warnings and their versions, and the disposal queue around them.

SQLAlchemy 2 over SQLite (the embedded default) or PostgreSQL. `save` is an idempotent
UPSERT keyed by `warning_id`: a newer version replaces the current row, a replay or an older
version leaves it alone, and every version seen is kept once in `warning_versions`. Around
the warnings the store keeps the disposal queue (status transitions, deadlines and
escalations), silences, the audit log, API tokens, what the public may see, outcome feedback
per detector and the pipeline's health snapshots.

The worker and the API write the same database, so every method is one short transaction;
rows that decide a change (a warning's status, a disposal's dues) are locked while deciding.
"""

from __future__ import annotations

import builtins
import secrets
from datetime import datetime
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic_core import to_jsonable_python
from sqlalchemy import Engine, and_, case, delete, func, or_, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from riskwatch.alerts.disposal import deadlines
from riskwatch.alerts.store.audit import AuditEntry, AuditFor, AuditRecord
from riskwatch.alerts.disposal.clock import Clock, SystemClock, require_aware
from riskwatch.alerts.store.db import Base, UtcDateTime, make_engine, upsert_for, write_engine
from riskwatch.contracts import Feedback
from riskwatch.alerts.disposal.outcomes import DetectorPrecision, Outcome, outcome_of
from riskwatch.alerts.disposal.lifecycle import (
    ALLOWED_TRANSITIONS,
    Disposal,
    Escalation,
    Transition,
    UnknownWarning,
    check_transition,
)
from riskwatch.alerts.disposal.outcomes import resolve_seconds, signals_by_detector
from riskwatch.alerts.store.pipeline_health import HealthSnapshot
from riskwatch.alerts.disposal.publication import Publication, PublicationState, publication_after_save
from riskwatch.alerts.disposal.silences import Silence, SilenceRequest, UnknownSilence
from riskwatch.alerts.store.tables import (
    AuditRow,
    DetectorOutcomeRow,
    DisposalRow,
    EscalationRow,
    FeedbackRow,
    HealthRow,
    PublicationRow,
    SilenceRow,
    TokenRow,
    TransitionRow,
    WarningRow,
    WarningVersionRow,
)
from riskwatch.alerts.store.tokens import Identity, Role, UnknownToken, hash_token, new_token
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RoutingConfig
from riskwatch.contracts import Level, MsgType, Warning, WarningStatus

__all__ = [
    "SYSTEM_ACTOR",
    "Base",
    "UtcDateTime",
    "WarningRow",
    "WarningStore",
    "WarningVersionRow",
    "row_to_warning",
    "warning_payload",
    "warning_to_row",
]

SYSTEM_ACTOR = "system"
"""Actor and role of the moves the pipeline makes itself (a Cancel message)."""

_Result = TypeVar("_Result")


# --------------------------------------------------------------------------- pydantic <-> row


def _utc(value: Any) -> Any:
    """`value` with every datetime inside it moved to UTC."""
    if isinstance(value, datetime):
        return require_aware(value)
    if isinstance(value, dict):
        return {k: _utc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_utc(v) for v in value]
    return value


def warning_payload(warning: Warning) -> dict[str, Any]:
    """The whole warning as JSON-ready data, every timestamp in UTC (ISO 8601, `Z`)."""
    return to_jsonable_python(_utc(warning.model_dump()))


def warning_to_row(warning: Warning) -> dict[str, Any]:
    """Column values of the `warnings` row for a warning (without `created_at`)."""
    data = warning_payload(warning)
    data["first_seen"] = warning.first_seen
    data["updated_at"] = warning.updated_at
    return data


def row_to_warning(row: WarningRow) -> Warning:
    """Rebuild the pydantic warning from its `warnings` row."""
    return Warning.model_validate({name: getattr(row, name) for name in Warning.model_fields})


def row_to_transition(row: TransitionRow) -> Transition:
    """Rebuild a lifecycle transition from its `warning_transitions` row."""
    return Transition.model_validate(row, from_attributes=True)


# Rows and models share their field names, so pydantic reads a row's attributes directly.


def _escalation(row: EscalationRow) -> Escalation:
    return Escalation.model_validate(row, from_attributes=True)


def _disposal(row: DisposalRow) -> Disposal:
    return Disposal.model_validate(row, from_attributes=True)


def _silence(row: SilenceRow) -> Silence:
    return Silence.model_validate(row, from_attributes=True)


def _audit_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry.model_validate(row, from_attributes=True)


def _write_audit(session: Session, audit: AuditFor[_Result] | None, result: _Result, at: datetime) -> None:
    """Add the entry for a change to the change's own session (nothing if `audit` is None)."""
    if audit is None:
        return
    record = audit if isinstance(audit, AuditRecord) else audit(result)
    session.add(AuditRow(**record.model_dump(), at=at))
    session.flush()


def _identity(row: TokenRow) -> Identity:
    return Identity(token_id=row.token_id, name=row.name, role=Role(row.role), department=row.department)


def _publication(row: PublicationRow) -> Publication:
    return Publication(
        warning_id=row.warning_id,
        state=PublicationState(row.state),
        public_version=row.public_version,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


def _aware(value: datetime | None, what: str) -> datetime | None:
    return None if value is None else require_aware(value, what)


# --------------------------------------------------------------------------- store


class WarningStore:
    """Persists warnings and the disposal queue; safe to share between threads and processes.

    `routing` (default: the shipped `routing.yaml`) gives departments, deadlines, the
    escalation chain and the publication policy; `clock` (default: the system clock) is
    where every "now" comes from, so tests can move time by hand.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        routing: RoutingConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.engine: Engine = make_engine(url)
        self.url = self.engine.url
        self.routing: RoutingConfig = routing or load_model(DEFAULT_CONFIG_DIR / "routing.yaml", RoutingConfig)
        self.clock: Clock = clock or SystemClock()
        self._insert = upsert_for(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(write_engine(self.engine), expire_on_commit=False)

    def _now(self) -> datetime:
        return require_aware(self.clock.now(), "clock.now()")

    # ----------------------------------------------------------------- schema

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic `upgrade head`); safe to run concurrently."""
        from riskwatch.alerts.store.schema import upgrade

        upgrade(self.engine)

    def create_schema(self) -> None:
        """Same as `migrate()`; kept for callers written before the migrations."""
        self.migrate()

    # ----------------------------------------------------------------- warnings

    def save(self, warning: Warning) -> bool:
        """Upsert a warning; True if the current state changed, False for a replay or older version.

        One transaction: the current row is replaced only by a newer version (its status is
        left to transitions), the version's history row is added if that version was never
        recorded, and a new current version updates the disposal (created on first sight,
        dues tightened on a level rise), the publication state, and cancels the warning if it
        is a Cancel. Calling it again after a crash (or a redelivery) is harmless.
        """
        with self._writes.begin() as session:
            changed = self._upsert_current(session, warning)
            self._record_version(session, warning)
            if changed:
                self._after_new_version(session, warning, self._now())
        return changed

    def _upsert_current(self, session: Session, warning: Warning) -> bool:
        values = warning_to_row(warning)
        values["created_at"] = self._now()
        stmt = self._insert(WarningRow).values(**values)
        kept = ("warning_id", "created_at", "status")  # status belongs to transitions
        updates = {k: stmt.excluded[k] for k in values if k not in kept}
        stmt = stmt.on_conflict_do_update(
            index_elements=[WarningRow.warning_id],
            set_=updates,
            where=WarningRow.version < stmt.excluded.version,
        ).returning(WarningRow.warning_id)
        return session.execute(stmt).first() is not None

    def _record_version(self, session: Session, warning: Warning) -> None:
        stmt = (
            self._insert(WarningVersionRow)
            .values(
                warning_id=warning.warning_id,
                version=warning.version,
                msg_type=warning.msg_type.value,
                level=warning.level.value,
                payload=warning_payload(warning),
                recorded_at=self._now(),
            )
            .on_conflict_do_nothing(index_elements=[WarningVersionRow.warning_id, WarningVersionRow.version])
        )
        session.execute(stmt)

    def _after_new_version(self, session: Session, warning: Warning, now: datetime) -> None:
        row = session.get(WarningRow, warning.warning_id, with_for_update=True)
        assert row is not None, "the upsert just wrote it"
        self._update_disposal(session, row, warning, now)
        if warning.msg_type is MsgType.cancel and WarningStatus.cancelled in ALLOWED_TRANSITIONS[WarningStatus(row.status)]:
            self._apply_transition(
                session,
                row,
                WarningStatus.cancelled,
                actor=SYSTEM_ACTOR,
                role=SYSTEM_ACTOR,
                reason=f"Cancel message, version {warning.version}",
                at=now,
            )
        previous = session.get(PublicationRow, warning.warning_id, with_for_update=True)
        publication = publication_after_save(
            _publication(previous) if previous else None,
            warning.warning_id,
            warning.version,
            warning.level,
            warning.msg_type,
            frozenset(self.routing.publication.auto_public_levels),
        )
        if previous is None:
            session.add(PublicationRow(**publication.model_dump(mode="python")))
        else:
            for name, value in publication.model_dump(mode="python").items():
                setattr(previous, name, value.value if isinstance(value, PublicationState) else value)

    def _update_disposal(self, session: Session, row: WarningRow, warning: Warning, now: datetime) -> None:
        found = session.get(DisposalRow, warning.warning_id, with_for_update=True)
        if found is None:
            dues = deadlines.initial_dues(self.routing, warning.level, now)
            department = warning.department or self.routing.department_for(warning.region_code, warning.category)
            stmt = (
                self._insert(DisposalRow)
                .values(
                    warning_id=warning.warning_id,
                    department=department,
                    tier=self.routing.escalation_chain[0],
                    acknowledge_due=dues.acknowledge,
                    resolve_due=dues.resolve,
                    escalations=0,
                    raised_at=now,
                )
                .on_conflict_do_nothing(index_elements=[DisposalRow.warning_id])
            )
            session.execute(stmt)
            return
        status = WarningStatus(row.status)
        dues = deadlines.tightened_dues(
            self.routing, warning.level, deadlines.Dues(found.acknowledge_due, found.resolve_due), now
        )
        if status in deadlines.ACKNOWLEDGE_PENDING:
            found.acknowledge_due = dues.acknowledge
        if status in deadlines.RESOLVE_PENDING:
            found.resolve_due = dues.resolve

    def get(self, warning_id: str) -> Warning | None:
        """The current state of a warning, or None."""
        with self._sessions() as session:
            row = session.get(WarningRow, warning_id)
            return row_to_warning(row) if row is not None else None

    def list(
        self,
        level: Level | None = None,
        region_prefix: str | None = None,
        category: str | None = None,
        status: WarningStatus | None = None,
        since: datetime | None = None,
        limit: int = 100,
        *,
        department: str | None = None,
    ) -> builtins.list[Warning]:
        """Current warnings, newest `updated_at` first, filtered by any of the arguments.

        `department` keeps the warnings the disposal queue routed to that department.
        """
        stmt = select(WarningRow)
        if level is not None:
            stmt = stmt.where(WarningRow.level == Level(level).value)
        if region_prefix:
            stmt = stmt.where(WarningRow.region_code.startswith(region_prefix, autoescape=True))
        if category is not None:
            stmt = stmt.where(WarningRow.category == category)
        if status is not None:
            stmt = stmt.where(WarningRow.status == WarningStatus(status).value)
        if since is not None:
            if since.tzinfo is None or since.utcoffset() is None:
                raise ValueError("since must be a timezone-aware datetime, not a naive one")
            stmt = stmt.where(WarningRow.updated_at >= since)
        if department is not None:
            stmt = stmt.join(DisposalRow, DisposalRow.warning_id == WarningRow.warning_id).where(
                DisposalRow.department == department
            )
        stmt = stmt.order_by(WarningRow.updated_at.desc(), WarningRow.warning_id).limit(limit)
        with self._sessions() as session:
            return [row_to_warning(row) for row in session.scalars(stmt)]

    def versions(self, warning_id: str) -> builtins.list[Warning]:
        """Every recorded version of a warning, oldest first."""
        stmt = (
            select(WarningVersionRow.payload)
            .where(WarningVersionRow.warning_id == warning_id)
            .order_by(WarningVersionRow.version)
        )
        with self._sessions() as session:
            return [Warning.model_validate(payload) for payload in session.scalars(stmt)]

    def counts_by_level(self) -> dict[Level, int]:
        """Number of current warnings per level; every level present, zero if none."""
        counts = {level: 0 for level in Level}
        stmt = select(WarningRow.level, func.count()).group_by(WarningRow.level)
        with self._sessions() as session:
            for level, count in session.execute(stmt):
                counts[Level(level)] = count
        return counts

    # ----------------------------------------------------------------- lifecycle

    def transition(
        self,
        warning_id: str,
        target: WarningStatus,
        *,
        actor: str,
        role: str,
        reason: str,
        at: datetime | None = None,
        audit: AuditFor[Transition] | None = None,
    ) -> Transition:
        """Move a warning to `target` and record who, when and why.

        Raises `UnknownWarning` for an id not in the store and `IllegalTransition` (nothing
        written) when the lifecycle does not allow the move from the current status. `audit`
        (a record, or a function of the transition) is written in the same transaction with
        the transition's time: both are stored or neither.
        """
        target = WarningStatus(target)
        if not actor.strip():
            raise ValueError("a transition needs an actor: who made it")
        when = _aware(at, "transition at") or self._now()
        with self._writes.begin() as session:
            row = session.get(WarningRow, warning_id, with_for_update=True)
            if row is None:
                raise UnknownWarning(warning_id)
            transition = self._apply_transition(session, row, target, actor=actor, role=role, reason=reason, at=when)
            _write_audit(session, audit, transition, when)
            return transition

    def _apply_transition(
        self,
        session: Session,
        row: WarningRow,
        target: WarningStatus,
        *,
        actor: str,
        role: str,
        reason: str,
        at: datetime,
    ) -> Transition:
        current = WarningStatus(row.status)
        check_transition(row.warning_id, current, target)
        row.status = target.value
        session.add(
            TransitionRow(
                warning_id=row.warning_id,
                from_status=current.value,
                to_status=target.value,
                actor=actor,
                role=role,
                reason=reason,
                at=at,
            )
        )
        disposal = session.get(DisposalRow, row.warning_id, with_for_update=True)
        if disposal is not None:
            if target is WarningStatus.acknowledged and disposal.acknowledged_at is None:
                disposal.acknowledged_at = at
            elif target is WarningStatus.resolved:
                disposal.resolved_at = at
            elif target is WarningStatus.in_progress and current is WarningStatus.resolved:
                disposal.resolved_at = None  # re-opened: not resolved any more
        return Transition(
            warning_id=row.warning_id,
            from_status=current,
            to_status=target,
            actor=actor,
            role=role,
            reason=reason,
            at=at,
        )

    def transitions(self, warning_id: str) -> builtins.list[Transition]:
        """Every transition of a warning, oldest first."""
        stmt = select(TransitionRow).where(TransitionRow.warning_id == warning_id).order_by(TransitionRow.id)
        with self._sessions() as session:
            return [row_to_transition(row) for row in session.scalars(stmt)]

    def transitions_after(self, after_id: int = 0, limit: int = 500) -> builtins.list[tuple[int, Transition]]:
        """Transitions recorded after row id `after_id`, with their ids, for change feeds that poll."""
        stmt = select(TransitionRow).where(TransitionRow.id > after_id).order_by(TransitionRow.id).limit(limit)
        with self._sessions() as session:
            return [(row.id, row_to_transition(row)) for row in session.scalars(stmt)]

    def disposal(self, warning_id: str) -> Disposal | None:
        """Department, tier and deadlines of a warning, or None if it is not in the queue."""
        with self._sessions() as session:
            row = session.get(DisposalRow, warning_id)
            return _disposal(row) if row is not None else None

    def check_deadlines(self, now: datetime | None = None) -> builtins.list[Escalation]:
        """Escalate every warning whose acknowledge or resolve deadline has passed at `now`.

        An acknowledge deadline is missed while the warning is new or dispatched; a resolve
        deadline while it is not yet resolved, closed, a false alarm or cancelled. Each miss
        moves the warning one tier up the escalation chain (staying at the last), is recorded,
        and re-arms that due one deadline after `now`. Calling it twice with the same `now`
        escalates nothing the second time.
        """
        when = _aware(now, "check_deadlines now") or self._now()
        ack_pending = [s.value for s in deadlines.ACKNOWLEDGE_PENDING]
        resolve_pending = [s.value for s in deadlines.RESOLVE_PENDING]
        stmt = (
            select(DisposalRow, WarningRow.status, WarningRow.level)
            .join(WarningRow, WarningRow.warning_id == DisposalRow.warning_id)
            .where(
                or_(
                    and_(WarningRow.status.in_(ack_pending), DisposalRow.acknowledge_due < when),
                    and_(WarningRow.status.in_(resolve_pending), DisposalRow.resolve_due < when),
                )
            )
            .order_by(DisposalRow.warning_id)
            .with_for_update(of=DisposalRow)
        )
        escalated: builtins.list[Escalation] = []
        with self._writes.begin() as session:
            for disposal, status_value, level_value in session.execute(stmt):
                status, level = WarningStatus(status_value), Level(level_value)
                if status in deadlines.ACKNOWLEDGE_PENDING and disposal.acknowledge_due < when:
                    escalated.append(self._escalate(session, disposal, "acknowledge", disposal.acknowledge_due, level, when))
                    disposal.acknowledge_due = deadlines.rearmed_due(self.routing, level, "acknowledge", when)
                if status in deadlines.RESOLVE_PENDING and disposal.resolve_due < when:
                    escalated.append(self._escalate(session, disposal, "resolve", disposal.resolve_due, level, when))
                    disposal.resolve_due = deadlines.rearmed_due(self.routing, level, "resolve", when)
        return escalated

    def _escalate(
        self,
        session: Session,
        disposal: DisposalRow,
        kind: deadlines.DeadlineKind,
        due: datetime,
        level: Level,
        now: datetime,
    ) -> Escalation:
        tier_to = self.routing.next_tier(disposal.tier)
        escalation = Escalation(
            warning_id=disposal.warning_id, deadline=kind, due=due, tier_from=disposal.tier, tier_to=tier_to, at=now
        )
        session.add(EscalationRow(**escalation.model_dump()))
        disposal.tier = tier_to
        disposal.escalations += 1
        return escalation

    def escalations(self, warning_id: str | None = None, since: datetime | None = None) -> builtins.list[Escalation]:
        """Recorded escalations, oldest first, of one warning and/or since a time."""
        stmt = select(EscalationRow).order_by(EscalationRow.at, EscalationRow.id)
        if warning_id is not None:
            stmt = stmt.where(EscalationRow.warning_id == warning_id)
        if since is not None:
            stmt = stmt.where(EscalationRow.at >= require_aware(since, "since"))
        with self._sessions() as session:
            return [_escalation(row) for row in session.scalars(stmt)]

    # ----------------------------------------------------------------- silences

    def add_silence(
        self, request: SilenceRequest, *, created_by: str, audit: AuditFor[Silence] | None = None
    ) -> Silence:
        """Store a silence; it starts now unless the request says when.

        `audit` (a record, or a function of the new silence, whose id is made here) is written
        in the same transaction, timed at the silence's creation.
        """
        now = self._now()
        starts_at = request.starts_at or now
        if request.ends_at <= now:
            raise ValueError(f"ends_at {request.ends_at.isoformat()} is already past (now {now.isoformat()})")
        if request.ends_at <= starts_at:
            raise ValueError(f"ends_at {request.ends_at.isoformat()} must be after starts_at {starts_at.isoformat()}")
        silence = Silence(
            silence_id=secrets.token_hex(8),
            region_prefix=request.region_prefix,
            categories=request.categories,
            starts_at=starts_at,
            ends_at=request.ends_at,
            reason=request.reason,
            created_by=created_by,
            created_at=now,
        )
        with self._writes.begin() as session:
            session.add(SilenceRow(**{**silence.model_dump(), "categories": list(silence.categories)}))
            _write_audit(session, audit, silence, now)
        return silence

    def silences(self, active_at: datetime | None = None) -> builtins.list[Silence]:
        """Every silence (None), or those in force at `active_at`; oldest created (then starting) first."""
        stmt = select(SilenceRow).order_by(SilenceRow.created_at, SilenceRow.starts_at, SilenceRow.silence_id)
        if active_at is not None:
            at = require_aware(active_at, "active_at")
            stmt = stmt.where(
                SilenceRow.starts_at <= at,
                SilenceRow.ends_at > at,
                or_(SilenceRow.expired_at.is_(None), SilenceRow.expired_at > at),
            )
        with self._sessions() as session:
            return [_silence(row) for row in session.scalars(stmt)]

    def silence_for(self, region_code: str, category: str, at: datetime | None = None) -> Silence | None:
        """The first silence muting this region and category at `at` (default now), if any."""
        when = _aware(at, "at") or self._now()
        return next((s for s in self.silences(active_at=when) if s.matches(region_code, category, when)), None)

    def expire_silence(self, silence_id: str, *, actor: str, audit: AuditFor[Silence] | None = None) -> Silence:
        """End a silence now; one that already ended is returned unchanged.

        `audit` (a record, or a function of the silence) is written in the same transaction,
        also when the silence had already ended (the request is still on record).
        """
        now = self._now()
        with self._writes.begin() as session:
            row = session.get(SilenceRow, silence_id, with_for_update=True)
            if row is None:
                raise UnknownSilence(silence_id)
            if row.expired_at is None and now < row.ends_at:
                row.expired_at = now
                row.expired_by = actor
            silence = _silence(row)
            _write_audit(session, audit, silence, now)
            return silence

    # ----------------------------------------------------------------- audit

    def audit(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        target: str,
        detail: str = "",
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append an audit entry and return it with its id."""
        record = AuditRecord(actor=actor, role=role, action=action, target=target, detail=detail)
        [entry] = self.audit_many([record], at=at)
        return entry

    def audit_many(self, entries: Sequence[AuditRecord], at: datetime | None = None) -> builtins.list[AuditEntry]:
        """Append several audit entries in one transaction, all at one time; returned with their ids, in order."""
        when = _aware(at, "audit at") or self._now()
        rows = [AuditRow(**AuditRecord.model_validate(entry).model_dump(), at=when) for entry in entries]
        if not rows:
            return []
        with self._writes.begin() as session:
            session.add_all(rows)
            session.flush()
            return [_audit_entry(row) for row in rows]

    def audit_log(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> builtins.list[AuditEntry]:
        """Audit entries, newest first, filtered by any of the arguments (exact matches)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        stmt = select(AuditRow).order_by(AuditRow.entry_id.desc()).limit(limit)
        if actor is not None:
            stmt = stmt.where(AuditRow.actor == actor)
        if action is not None:
            stmt = stmt.where(AuditRow.action == action)
        if target is not None:
            stmt = stmt.where(AuditRow.target == target)
        if since is not None:
            stmt = stmt.where(AuditRow.at >= require_aware(since, "since"))
        with self._sessions() as session:
            return [_audit_entry(row) for row in session.scalars(stmt)]

    # ----------------------------------------------------------------- tokens

    def create_token(self, name: str, role: Role, department: str | None = None) -> tuple[Identity, str]:
        """Create an API token; returns its identity and the plaintext token (shown only now).

        Operators must name a department of `routing.yaml`; only the token's SHA-256 is stored.
        """
        role = Role(role)
        if role is Role.operator and not department:
            raise ValueError("an operator token needs --department: operators act on their own department's warnings")
        known = self.routing.department_codes()
        if department is not None and department not in known:
            raise ValueError(f"unknown department {department!r}: expected one of {', '.join(sorted(known))}")
        token_id, token = new_token()
        identity = Identity(token_id=token_id, name=name, role=role, department=department)
        with self._writes.begin() as session:
            session.add(
                TokenRow(
                    token_id=token_id,
                    name=identity.name,
                    role=role.value,
                    department=department,
                    token_sha256=hash_token(token),
                    created_at=self._now(),
                )
            )
        return identity, token

    def identify(self, token: str) -> Identity | None:
        """Who holds this token, or None if it is unknown or revoked."""
        stmt = select(TokenRow).where(TokenRow.token_sha256 == hash_token(token), TokenRow.revoked_at.is_(None))
        with self._sessions() as session:
            row = session.scalars(stmt).first()
            return _identity(row) if row is not None else None

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token at once; `UnknownToken` if no active token has this id."""
        with self._writes.begin() as session:
            row = session.get(TokenRow, token_id, with_for_update=True)
            if row is None or row.revoked_at is not None:
                raise UnknownToken(token_id)
            row.revoked_at = self._now()

    def tokens(self) -> builtins.list[Identity]:
        """Every active (not revoked) token, oldest first."""
        stmt = select(TokenRow).where(TokenRow.revoked_at.is_(None)).order_by(TokenRow.created_at, TokenRow.token_id)
        with self._sessions() as session:
            return [_identity(row) for row in session.scalars(stmt)]

    # ----------------------------------------------------------------- publication

    def publication(self, warning_id: str) -> Publication | None:
        """What the public may see of a warning, or None if it is unknown."""
        with self._sessions() as session:
            row = session.get(PublicationRow, warning_id)
            return _publication(row) if row is not None else None

    def approve(self, warning_id: str, *, actor: str, audit: AuditFor[Publication] | None = None) -> Publication:
        """Publish the warning's current version to the public feed (a commander's decision).

        `audit` (a record, or a function of the publication) is written in the same
        transaction, timed at the approval.
        """
        now = self._now()
        with self._writes.begin() as session:
            warning = session.get(WarningRow, warning_id, with_for_update=True)
            if warning is None:
                raise UnknownWarning(warning_id)
            row = session.get(PublicationRow, warning_id, with_for_update=True)
            if row is None:
                row = PublicationRow(warning_id=warning_id)
                session.add(row)
            row.state = PublicationState.public.value
            row.public_version = warning.version
            row.approved_by = actor
            row.approved_at = now
            session.flush()
            publication = _publication(row)
            _write_audit(session, audit, publication, now)
            return publication

    def public_warnings(self, limit: int = 100) -> builtins.list[Warning]:
        """Warnings the public may see, each as its public version, newest recorded first."""
        stmt = (
            select(WarningVersionRow.payload)
            .join(
                PublicationRow,
                and_(
                    PublicationRow.warning_id == WarningVersionRow.warning_id,
                    PublicationRow.public_version == WarningVersionRow.version,
                ),
            )
            .order_by(WarningVersionRow.recorded_at.desc(), WarningVersionRow.warning_id)
            .limit(limit)
        )
        with self._sessions() as session:
            return [Warning.model_validate(payload) for payload in session.scalars(stmt)]

    # ----------------------------------------------------------------- feedback

    def record_feedback(self, feedback: Feedback) -> bool:
        """Keep a feedback message and credit its outcome to the warning's detectors.

        True if it was new, False for a redelivery (nothing changes). A resolved or closed
        warning is a true alarm, a false alarm a false one; each detector with a signal in the
        warning gets the outcome and the resolve time (queue entry to resolution). Re-opening
        a resolved warning withdraws the outcome until it is settled again.
        """
        with self._writes.begin() as session:
            warning = session.get(WarningRow, feedback.warning_id)
            if warning is None:
                raise UnknownWarning(feedback.warning_id)
            stmt = (
                self._insert(FeedbackRow)
                .values(feedback_id=feedback.feedback_id, **feedback.model_dump(mode="json") | {"at": feedback.at})
                .on_conflict_do_nothing(index_elements=[FeedbackRow.feedback_id])
                .returning(FeedbackRow.feedback_id)
            )
            if session.execute(stmt).first() is None:
                return False
            outcome = outcome_of(feedback.to_status)
            if outcome is None:
                if feedback.from_status is WarningStatus.resolved:
                    session.execute(delete(DetectorOutcomeRow).where(DetectorOutcomeRow.warning_id == feedback.warning_id))
                return True
            disposal = session.get(DisposalRow, feedback.warning_id)
            settled_at = feedback.at
            if outcome is Outcome.true_alarm and disposal is not None and disposal.resolved_at is not None:
                settled_at = disposal.resolved_at
            seconds = resolve_seconds(disposal.raised_at if disposal else None, settled_at)
            for detector, signal_ids in signals_by_detector(warning.signals).items():
                values = {
                    "true_alarm": outcome is Outcome.true_alarm,
                    "signal_ids": signal_ids,
                    "resolve_seconds": seconds,
                    "decided_at": feedback.at,
                }
                upsert = self._insert(DetectorOutcomeRow).values(
                    warning_id=feedback.warning_id, detector=detector, **values
                )
                session.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[DetectorOutcomeRow.warning_id, DetectorOutcomeRow.detector],
                        set_={k: upsert.excluded[k] for k in values},
                    )
                )
        return True

    def detector_precision(self) -> builtins.list[DetectorPrecision]:
        """Each detector's true and false alarms, precision and mean resolve time, by name."""
        true_alarm = DetectorOutcomeRow.true_alarm.is_(True)
        stmt = (
            select(
                DetectorOutcomeRow.detector,
                func.count().filter(true_alarm),
                func.count().filter(DetectorOutcomeRow.true_alarm.is_(False)),
                func.avg(case((true_alarm, DetectorOutcomeRow.resolve_seconds))),
            )
            .group_by(DetectorOutcomeRow.detector)
            .order_by(DetectorOutcomeRow.detector)
        )
        with self._sessions() as session:
            rows = session.execute(stmt).all()
        return [
            DetectorPrecision(
                detector=detector,
                true_alarms=true_count,
                false_alarms=false_count,
                precision=true_count / (true_count + false_count) if true_count + false_count else None,
                mean_resolve_seconds=float(mean) if mean is not None else None,
            )
            for detector, true_count, false_count, mean in rows
        ]

    # ----------------------------------------------------------------- pipeline health

    def put_health(self, component: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        """Replace a component's health snapshot."""
        snapshot = HealthSnapshot(component=component, payload=payload, at=_aware(at, "health at") or self._now())
        values = {"payload": to_jsonable_python(snapshot.payload), "at": snapshot.at}
        stmt = self._insert(HealthRow).values(component=component, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[HealthRow.component], set_={k: stmt.excluded[k] for k in values}
        )
        with self._writes.begin() as session:
            session.execute(stmt)

    def health(self) -> dict[str, HealthSnapshot]:
        """The latest snapshot of every component, by component name."""
        with self._sessions() as session:
            return {
                row.component: HealthSnapshot(component=row.component, payload=row.payload, at=row.at)
                for row in session.scalars(select(HealthRow).order_by(HealthRow.component))
            }

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

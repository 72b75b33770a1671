"""Behaviour every `WarningStore` backend must show, shared by the SQLite and PostgreSQL tests.

A backend's test module subclasses `StoreContract` and `DisposalContract` and provides a `store_factory` fixture: a
callable returning a `WarningStore` (on the given clock, if any) on a database that is fresh
for each test (several calls within one test open the same database) with the schema created.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, func, select

from riskwatch.alerts.disposal.clock import Clock, ManualClock
from riskwatch.alerts.disposal.lifecycle import ALLOWED_TRANSITIONS, IllegalTransition, Transition, UnknownWarning
from riskwatch.alerts.disposal.outcomes import DetectorPrecision
from riskwatch.alerts.disposal.plan import plan_disposal
from riskwatch.alerts.disposal.publication import Publication, PublicationState
from riskwatch.alerts.disposal.silences import SilenceRequest, UnknownSilence
from riskwatch.alerts.store import warnings as warnings_repository
from riskwatch.alerts.store.audit import AuditRecord
from riskwatch.alerts.store.db import Base
from riskwatch.alerts.store.pipeline_health import HealthSnapshot
from riskwatch.alerts.store.schema import head_revision
from riskwatch.alerts.store.store import WarningStore
from riskwatch.alerts.store.tables import AuditRow, TokenRow, WarningVersionRow
from riskwatch.alerts.store.tokens import Identity, Role, UnknownToken
from riskwatch.contracts import Feedback, Level, MsgType, SignalKind, SignalSummary, Source, Warning, WarningStatus


class StoreFactory(Protocol):
    """Opens a store on the test's database, on `clock` if given (else the system clock)."""

    def __call__(self, clock: Clock | None = None) -> WarningStore: ...


def save(store: WarningStore, warning: Warning) -> bool:
    """Save a warning as the pipeline does: planned by the disposal stage at the store's now, then stored."""
    return store.warnings.save(warning, plan_disposal(warning, store.routing, store.clock.now()))


CST = timezone(timedelta(hours=8), "CST")
T0 = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=CST)


def make_warning(**overrides: Any) -> Warning:
    """A valid level-III water-supply warning; any field can be overridden."""
    at = overrides.get("updated_at", T0)
    fields: dict[str, Any] = {
        "warning_id": "w-0001",
        "version": 1,
        "msg_type": MsgType.alert,
        "level": Level.III,
        "status": WarningStatus.new,
        "region_code": "440305007",
        "region_name": "南山区粤海街道",
        "district_code": "440305",
        "category": "water_supply",
        "category_name": "供水",
        "title": "粤海街道停水投诉激增",
        "department": "区水务局",
        "first_seen": T0,
        "updated_at": at,
        "score": 0.8125,
        "sources": (Source.hotline, Source.sensor),
        "explanation": ("hotline surge: 14 calls vs 3.2 expected", "pressure drop at PS-17"),
        "signals": (
            SignalSummary(
                signal_id="s-1",
                detector="surge.water",
                kind=SignalKind.surge,
                source=Source.hotline,
                region_code="440305007",
                at=at,
                score=0.75,
                observed=14.0,
                expected=3.2,
                reason="14 calls in 1h, expected 3.2",
            ),
            SignalSummary(
                signal_id="s-2",
                detector="threshold.pressure",
                kind=SignalKind.threshold,
                source=Source.sensor,
                region_code="440305007",
                at=at,
                score=0.9,
                observed=0.12,
                expected=None,
                reason="pressure 0.12 MPa under 0.15",
            ),
        ),
    }
    fields.update(overrides)
    return Warning(**fields)


def version_rows(store: WarningStore, warning_id: str) -> int:
    """How many history rows a warning has."""
    with store.engine.connect() as conn:
        stmt = select(func.count()).select_from(WarningVersionRow).where(WarningVersionRow.warning_id == warning_id)
        return conn.execute(stmt).scalar_one()


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run attempt(0) … attempt(count - 1) in threads released at once; each one's result, or
    the exception it raised, in completion order."""
    outcomes: list[Any] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(attempt(i))
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


class StoreContract:
    """The shared tests; subclasses supply the `store_factory` fixture."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> WarningStore:
        return store_factory()

    def test_round_trip(self, store: WarningStore) -> None:
        warning = make_warning()
        assert save(store, warning) is True
        assert store.warnings.get(warning.warning_id) == warning
        assert store.warnings.versions(warning.warning_id) == [warning]

    def test_get_missing(self, store: WarningStore) -> None:
        assert store.warnings.get("nope") is None
        assert store.warnings.versions("nope") == []

    def test_replay_same_version_is_noop(self, store: WarningStore) -> None:
        warning = make_warning()
        assert save(store, warning) is True
        assert save(store, warning) is False
        assert save(store, make_warning(title="changed but same version")) is False
        assert store.warnings.get(warning.warning_id) == warning
        assert version_rows(store, warning.warning_id) == 1

    def test_newer_version_updates(self, store: WarningStore) -> None:
        first = make_warning()
        second = make_warning(
            version=2, msg_type=MsgType.update, level=Level.II, updated_at=T0 + timedelta(minutes=10)
        )
        save(store, first)
        assert save(store, second) is True
        current = store.warnings.get(first.warning_id)
        assert current == second
        assert current is not None and current.level is Level.II
        assert store.warnings.versions(first.warning_id) == [first, second]
        assert version_rows(store, first.warning_id) == 2

    def test_older_version_does_not_overwrite(self, store: WarningStore) -> None:
        first = make_warning()
        second = make_warning(version=2, msg_type=MsgType.update, level=Level.I)
        third = make_warning(version=3, msg_type=MsgType.cancel, status=WarningStatus.cancelled)
        save(store, first)
        save(store, third)
        assert save(store, first) is False
        assert save(store, second) is False  # late arrival: kept in history only
        assert store.warnings.get(first.warning_id) == third
        assert [w.version for w in store.warnings.versions(first.warning_id)] == [1, 2, 3]

    def test_list_filters(self, store: WarningStore) -> None:
        a = make_warning(warning_id="a", level=Level.I, region_code="440305007001", updated_at=T0)
        b = make_warning(
            warning_id="b",
            level=Level.III,
            region_code="440306001",
            district_code="440306",
            category="gas",
            updated_at=T0 + timedelta(hours=1),
        )
        c = make_warning(
            warning_id="c",
            level=Level.I,
            region_code="440305",
            status=WarningStatus.resolved,
            updated_at=T0 + timedelta(hours=2),
        )
        for w in (a, b, c):
            save(store, w)
        ids = lambda ws: [w.warning_id for w in ws]  # noqa: E731
        assert ids(store.warnings.list()) == ["c", "b", "a"]
        assert ids(store.warnings.list(limit=2)) == ["c", "b"]
        assert ids(store.warnings.list(level=Level.I)) == ["c", "a"]
        assert ids(store.warnings.list(region_prefix="440305")) == ["c", "a"]
        assert ids(store.warnings.list(region_prefix="4403050")) == ["a"]
        assert ids(store.warnings.list(region_prefix="44030_")) == []  # no LIKE wildcards
        assert ids(store.warnings.list(category="gas")) == ["b"]
        assert ids(store.warnings.list(status=WarningStatus.resolved)) == ["c"]
        assert ids(store.warnings.list(since=T0 + timedelta(hours=1))) == ["c", "b"]
        # the same instant in another zone selects the same rows
        assert ids(store.warnings.list(since=(T0 + timedelta(hours=1)).astimezone(UTC))) == ["c", "b"]
        assert ids(store.warnings.list(level=Level.I, status=WarningStatus.new)) == ["a"]

    def test_counts_by_level(self, store: WarningStore) -> None:
        assert store.warnings.counts_by_level() == {level: 0 for level in Level}
        save(store, make_warning(warning_id="a", level=Level.I))
        save(store, make_warning(warning_id="b", level=Level.I))
        save(store, make_warning(warning_id="c", level=Level.IV))
        save(store, make_warning(warning_id="c", version=2, level=Level.II))
        assert store.warnings.counts_by_level() == {Level.I: 2, Level.II: 1, Level.III: 0, Level.IV: 0}

    def test_timestamps_are_aware_utc(self, store: WarningStore) -> None:
        warning = make_warning()
        save(store, warning)
        got = store.warnings.get(warning.warning_id)
        assert got is not None
        for value, original in ((got.first_seen, T0), (got.updated_at, T0), (got.signals[0].at, T0)):
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
            assert value == original
        assert got.first_seen.astimezone(CST).replace(tzinfo=None) == T0.replace(tzinfo=None)

    def test_naive_since_is_refused(self, store: WarningStore) -> None:
        with pytest.raises(ValueError, match="naive"):
            store.warnings.list(since=datetime(2026, 11, 23))

    def test_persists_across_instances(self, store_factory: StoreFactory) -> None:
        warning = make_warning()
        first = store_factory()
        save(first, warning)
        first.close()
        second = store_factory()
        assert second.warnings.get(warning.warning_id) == warning
        assert save(second, warning) is False

    def test_crash_mid_save_leaves_nothing_and_retry_works(
        self, store: WarningStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        warning = make_warning()

        def crash(*_args: Any) -> None:
            raise RuntimeError("worker killed")

        monkeypatch.setattr(store.warnings, "_record_version", crash)
        with pytest.raises(RuntimeError):
            save(store, warning)
        assert store.warnings.get(warning.warning_id) is None
        monkeypatch.undo()
        assert save(store, warning) is True
        assert save(store, warning) is False
        assert version_rows(store, warning.warning_id) == 1

    def test_save_refuses_a_plan_made_for_another_version(self, store: WarningStore) -> None:
        first, second = make_warning(), make_warning(version=2, msg_type=MsgType.update)
        with pytest.raises(ValueError, match="the plan is for w-0001 v1, not w-0001 v2"):
            store.warnings.save(second, plan_disposal(first, store.routing, store.clock.now()))
        assert store.warnings.get(first.warning_id) is None
        assert version_rows(store, first.warning_id) == 0

    def test_concurrent_saves_apply_once(self, store_factory: StoreFactory) -> None:
        stores = [store_factory() for _ in range(2)]
        warning = make_warning()
        results = race(8, lambda i: save(stores[i % 2], warning))
        assert sorted(results) == [False] * 7 + [True]
        assert version_rows(stores[0], warning.warning_id) == 1


# --------------------------------------------------------------------------- disposal queue

S = WarningStatus
CLOCK_START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

# From `new`, the moves that reach each non-terminal status.
PATH_TO: dict[WarningStatus, list[WarningStatus]] = {
    S.new: [],
    S.dispatched: [S.dispatched],
    S.acknowledged: [S.acknowledged],
    S.in_progress: [S.acknowledged, S.in_progress],
    S.resolved: [S.acknowledged, S.resolved],
}
LEGAL_MOVES = sorted(
    ((current, target) for current, targets in ALLOWED_TRANSITIONS.items() for target in targets),
    key=lambda pair: (pair[0].value, pair[1].value),
)


def act(store: WarningStore, warning_id: str, target: WarningStatus, reason: str = "test") -> Transition:
    return store.transitions.apply(warning_id, target, actor="张值班", role="commander", reason=reason)


class AuditWriteFailed(RuntimeError):
    """Raised by `failing_audit_writes` in place of the audit row's INSERT."""


@contextmanager
def failing_audit_writes() -> Iterator[None]:
    """Make every audit-row INSERT fail (as a full disk or a lost connection would) while inside."""

    def fail(*_: Any) -> None:
        raise AuditWriteFailed("audit insert refused by the test")

    event.listen(AuditRow, "before_insert", fail)
    try:
        yield
    finally:
        event.remove(AuditRow, "before_insert", fail)


def record(action: str, target: str = "w-0001", detail: str = "") -> AuditRecord:
    """An audit record by the test's commander."""
    return AuditRecord(actor="张值班", role="commander", action=action, target=target, detail=detail)


class DisposalContract:
    """Transitions, deadlines, silences, audit, tokens, publication, feedback and health."""

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(CLOCK_START)

    @pytest.fixture
    def store(self, store_factory: StoreFactory, clock: ManualClock) -> WarningStore:
        return store_factory(clock)

    # ------------------------------------------------------------- schema

    def test_migrated_schema_matches_the_models(self, store: WarningStore) -> None:
        store.migrate()  # a second run is a no-op
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == head_revision()

    # ------------------------------------------------------------- lifecycle

    @pytest.mark.parametrize(("current", "target"), LEGAL_MOVES, ids=lambda s: s.value)
    def test_each_legal_transition(
        self, store: WarningStore, clock: ManualClock, current: WarningStatus, target: WarningStatus
    ) -> None:
        save(store, make_warning())
        for step in PATH_TO[current]:
            act(store, "w-0001", step)
        clock.advance(timedelta(minutes=3))
        done = store.transitions.apply("w-0001", target, actor="李调度", role="operator", reason="现场确认")
        assert done == Transition(
            warning_id="w-0001",
            from_status=current,
            to_status=target,
            actor="李调度",
            role="operator",
            reason="现场确认",
            at=clock.now(),
        )
        assert store.warnings.get("w-0001").status is target  # type: ignore[union-attr]
        assert store.transitions.of("w-0001")[-1] == done
        assert len(store.transitions.of("w-0001")) == len(PATH_TO[current]) + 1

    def test_illegal_transition_is_refused_with_a_clear_message(self, store: WarningStore) -> None:
        save(store, make_warning())
        act(store, "w-0001", S.acknowledged)
        with pytest.raises(IllegalTransition) as caught:
            act(store, "w-0001", S.dispatched)
        assert str(caught.value) == (
            "warning w-0001 is acknowledged: cannot go to dispatched "
            "(allowed: in_progress, resolved, false_alarm, cancelled)"
        )
        assert (caught.value.current, caught.value.target) == (S.acknowledged, S.dispatched)
        assert store.warnings.get("w-0001").status is S.acknowledged  # type: ignore[union-attr]
        assert [t.to_status for t in store.transitions.of("w-0001")] == [S.acknowledged]

    def test_terminal_status_allows_nothing(self, store: WarningStore) -> None:
        save(store, make_warning())
        act(store, "w-0001", S.false_alarm)
        with pytest.raises(IllegalTransition, match=r"is false_alarm: cannot go to acknowledged \(allowed: none"):
            act(store, "w-0001", S.acknowledged)

    def test_transition_of_unknown_warning(self, store: WarningStore) -> None:
        with pytest.raises(UnknownWarning, match="no warning 'nope'"):
            act(store, "nope", S.acknowledged)

    def test_transition_records_who_when_why(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning())
        act(store, "w-0001", S.dispatched, reason="派单给供水集团")
        clock.advance(timedelta(minutes=7))
        at = datetime(2026, 11, 23, 10, 7, tzinfo=CST)
        store.transitions.apply("w-0001", S.acknowledged, actor="王工", role="operator", reason="已到场", at=at)
        assert [(t.actor, t.role, t.reason, t.at) for t in store.transitions.of("w-0001")] == [
            ("张值班", "commander", "派单给供水集团", CLOCK_START),
            ("王工", "operator", "已到场", at),
        ]
        assert store.disposals.get("w-0001").acknowledged_at == at  # type: ignore[union-attr]

    def test_save_does_not_reset_status(self, store: WarningStore) -> None:
        save(store, make_warning())
        act(store, "w-0001", S.acknowledged)
        newer = make_warning(version=2, msg_type=MsgType.update, level=Level.II, status=S.new)
        assert save(store, newer) is True
        current = store.warnings.get("w-0001")
        assert current is not None and current.version == 2 and current.level is Level.II
        assert current.status is S.acknowledged

    def test_cancel_message_cancels_an_open_warning(self, store: WarningStore) -> None:
        save(store, make_warning())
        save(store, make_warning(version=2, msg_type=MsgType.cancel))
        assert store.warnings.get("w-0001").status is S.cancelled  # type: ignore[union-attr]
        (cancel,) = store.transitions.of("w-0001")
        assert (cancel.from_status, cancel.actor, cancel.role) == (S.new, "system", "system")
        assert "Cancel" in cancel.reason

    def test_cancel_message_leaves_a_resolved_warning_resolved(self, store: WarningStore) -> None:
        save(store, make_warning())
        act(store, "w-0001", S.acknowledged)
        act(store, "w-0001", S.resolved)
        save(store, make_warning(version=2, msg_type=MsgType.cancel))
        assert store.warnings.get("w-0001").status is S.resolved  # type: ignore[union-attr]

    def test_concurrent_transitions_apply_once(self, store_factory: StoreFactory) -> None:
        stores = [store_factory() for _ in range(2)]
        save(stores[0], make_warning())
        outcomes = race(6, lambda i: act(stores[i % 2], "w-0001", S.acknowledged))
        assert sorted(type(o).__name__ for o in outcomes) == ["IllegalTransition"] * 5 + ["Transition"]
        assert len(stores[0].transitions.of("w-0001")) == 1

    # ------------------------------------------------------------- deadlines

    def test_disposal_on_first_save(self, store: WarningStore) -> None:
        save(store, make_warning(department=None, region_code="410105002", category="water_supply"))
        disposal = store.disposals.get("w-0001")
        deadline = store.routing.deadline_for(Level.III)
        assert disposal is not None
        assert disposal.department == store.routing.department_for("410105002", "water_supply") == "water_group"
        assert disposal.tier == store.routing.escalation_chain[0]
        assert disposal.acknowledge_due == CLOCK_START + deadline.acknowledge
        assert disposal.resolve_due == CLOCK_START + deadline.resolve
        assert (disposal.acknowledged_at, disposal.resolved_at, disposal.escalations) == (None, None, 0)
        assert store.disposals.get("nope") is None

    def test_a_failed_publication_write_rolls_the_whole_save_back(
        self, store: WarningStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refuse(*_args: Any) -> None:
            raise RuntimeError("publication write refused by the test")

        monkeypatch.setattr(warnings_repository, "publish_as_planned", refuse)
        with pytest.raises(RuntimeError, match="refused by the test"):
            save(store, make_warning())
        assert store.warnings.get("w-0001") is None
        assert version_rows(store, "w-0001") == 0
        assert store.disposals.get("w-0001") is None
        monkeypatch.undo()
        assert save(store, make_warning()) is True
        assert store.disposals.get("w-0001") is not None
        assert store.publications.get("w-0001") is not None

    def test_department_given_by_the_warning_wins(self, store: WarningStore) -> None:
        save(store, make_warning(department="gas_company"))
        assert store.disposals.get("w-0001").department == "gas_company"  # type: ignore[union-attr]
        assert [w.warning_id for w in store.warnings.list(department="gas_company")] == ["w-0001"]
        assert store.warnings.list(department="water_group") == []

    def test_level_rise_tightens_dues(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning(level=Level.IV))
        before = store.disposals.get("w-0001")
        clock.advance(timedelta(minutes=10))
        save(store, make_warning(version=2, msg_type=MsgType.update, level=Level.I))
        after = store.disposals.get("w-0001")
        level_i = store.routing.deadline_for(Level.I)
        assert before is not None and after is not None
        assert after.acknowledge_due == clock.now() + level_i.acknowledge < before.acknowledge_due
        assert after.resolve_due == clock.now() + level_i.resolve < before.resolve_due
        clock.advance(timedelta(minutes=1))
        save(store, make_warning(version=3, msg_type=MsgType.update, level=Level.IV))
        assert store.disposals.get("w-0001") == after  # a lower level never loosens

    def test_missed_acknowledge_deadline_escalates_tier_by_tier(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning(level=Level.I))
        chain = store.routing.escalation_chain
        ack = store.routing.deadline_for(Level.I).acknowledge
        first_due = CLOCK_START + ack
        assert store.disposals.check_deadlines() == []

        clock.advance(ack + timedelta(seconds=1))
        (escalation,) = store.disposals.check_deadlines()
        assert escalation.model_dump() == {
            "warning_id": "w-0001",
            "deadline": "acknowledge",
            "due": first_due,
            "tier_from": chain[0],
            "tier_to": chain[1],
            "at": clock.now(),
        }
        assert store.disposals.check_deadlines() == []  # same now: nothing more
        disposal = store.disposals.get("w-0001")
        assert disposal is not None and disposal.tier == chain[1] and disposal.escalations == 1
        assert disposal.acknowledge_due == clock.now() + ack

        clock.advance(ack + timedelta(seconds=1))
        (second,) = store.disposals.check_deadlines()
        assert (second.tier_from, second.tier_to) == (chain[1], chain[2])
        assert store.disposals.escalations("w-0001") == [escalation, second]
        assert store.disposals.escalations(since=second.at) == [second]

    def test_escalation_stays_at_the_last_tier(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning(level=Level.I))
        ack = store.routing.deadline_for(Level.I).acknowledge
        chain = store.routing.escalation_chain
        for _ in range(len(chain) + 1):
            clock.advance(ack + timedelta(seconds=1))
            store.disposals.check_deadlines()
        tiers = [(e.tier_from, e.tier_to) for e in store.disposals.escalations("w-0001")]
        assert tiers[-1] == (chain[-1], chain[-1])
        assert store.disposals.get("w-0001").tier == chain[-1]  # type: ignore[union-attr]

    def test_no_escalation_when_acknowledged_in_time(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning(level=Level.I))
        ack = store.routing.deadline_for(Level.I).acknowledge
        clock.advance(ack - timedelta(seconds=1))
        act(store, "w-0001", S.acknowledged)
        clock.advance(timedelta(minutes=30))
        assert store.disposals.check_deadlines() == []
        assert store.disposals.escalations("w-0001") == []
        assert store.disposals.get("w-0001").tier == store.routing.escalation_chain[0]  # type: ignore[union-attr]

    def test_missed_resolve_deadline_escalates_until_resolved(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning(level=Level.II))
        deadline = store.routing.deadline_for(Level.II)
        act(store, "w-0001", S.acknowledged)
        act(store, "w-0001", S.in_progress)
        clock.advance(deadline.resolve + timedelta(seconds=1))
        (escalation,) = store.disposals.check_deadlines()
        assert escalation.deadline == "resolve"
        act(store, "w-0001", S.resolved)
        clock.advance(deadline.resolve * 2)
        assert store.disposals.check_deadlines() == []
        assert store.disposals.get("w-0001").resolved_at is not None  # type: ignore[union-attr]

    def test_concurrent_deadline_rounds_escalate_each_missed_due_once(self, store_factory: StoreFactory) -> None:
        """Replicas (workers, `riskwatch disposal run`) racing on the same overdue queue: one
        escalation per missed due, whoever's round runs it."""
        stores = [store_factory() for _ in range(3)]
        for i in range(12):
            save(stores[0], make_warning(warning_id=f"w-{i:04d}", level=Level.I))
        later = datetime.now(UTC) + timedelta(hours=1)  # every acknowledge due of level Ⅰ has passed
        rounds = race(6, lambda i: stores[i % 3].disposals.check_deadlines(now=later))
        assert all(isinstance(found, list) for found in rounds), rounds
        escalated = sorted(e.warning_id for found in rounds for e in found)
        assert escalated == [f"w-{i:04d}" for i in range(12)]  # each once, none lost
        assert len(stores[1].disposals.escalations()) == 12

    def test_check_deadlines_with_an_explicit_now(self, store: WarningStore) -> None:
        save(store, make_warning(level=Level.I))
        later = CLOCK_START + timedelta(hours=1)
        assert [e.at for e in store.disposals.check_deadlines(now=later)] == [later]
        assert store.disposals.check_deadlines(now=later) == []

    # ------------------------------------------------------------- silences

    def test_silences_match_expire_and_filter(self, store: WarningStore, clock: ManualClock) -> None:
        window = SilenceRequest(
            region_prefix="410105002",
            categories=("water_supply",),
            ends_at=CLOCK_START + timedelta(hours=4),
            reason="管网检修 WO-17",
        )
        later = SilenceRequest(
            region_prefix="410105",
            starts_at=CLOCK_START + timedelta(hours=2),
            ends_at=CLOCK_START + timedelta(hours=3),
            reason="全区演练",
        )
        first = store.silences.add(window, created_by="张值班")
        second = store.silences.add(later, created_by="张值班")
        assert (first.starts_at, first.created_by, first.expired_at) == (CLOCK_START, "张值班", None)
        assert first.matches("410105002001001", "water_supply", CLOCK_START)
        assert not first.matches("410105002001001", "gas_supply", CLOCK_START)
        assert not first.matches("410105003", "water_supply", CLOCK_START)
        assert second.matches("410105003", "gas_supply", CLOCK_START + timedelta(hours=2))
        assert not second.matches("410105003", "gas_supply", CLOCK_START)
        assert store.silences.list() == [first, second]
        assert store.silences.list(active_at=CLOCK_START) == [first]
        assert store.silences.list(active_at=CLOCK_START + timedelta(hours=2, minutes=30)) == [first, second]
        assert store.silences.matching("410105002", "water_supply") == first

        clock.advance(timedelta(hours=1))
        expired = store.silences.expire(first.silence_id, actor="李调度")
        assert (expired.expired_at, expired.expired_by) == (clock.now(), "李调度")
        assert not expired.matches("410105002", "water_supply", clock.now())
        assert store.silences.list(active_at=clock.now()) == []
        assert store.silences.list(active_at=CLOCK_START) == [expired]  # it was in force then
        assert store.silences.expire(first.silence_id, actor="someone else") == expired
        with pytest.raises(UnknownSilence):
            store.silences.expire("nope", actor="李调度")

    def test_silence_ending_in_the_past_is_refused(self, store: WarningStore) -> None:
        request = SilenceRequest(region_prefix="410105", ends_at=CLOCK_START - timedelta(minutes=1), reason="x")
        with pytest.raises(ValueError, match="already past"):
            store.silences.add(request, created_by="张值班")
        assert store.silences.list() == []

    # ------------------------------------------------------------- audit

    def test_audit_log_filters_newest_first(self, store: WarningStore, clock: ManualClock) -> None:
        a = store.audit_log.append(actor="张值班", role="commander", action="transition.acknowledge", target="w-1", detail="ok")
        clock.advance(timedelta(minutes=5))
        b = store.audit_log.append(actor="李调度", role="operator", action="read.warning", target="w-1")
        c = store.audit_log.append(actor="张值班", role="commander", action="read.warning", target="w-2")
        assert a.entry_id < b.entry_id < c.entry_id
        assert (a.at, a.detail, b.detail) == (CLOCK_START, "ok", "")
        assert store.audit_log.entries() == [c, b, a]
        assert store.audit_log.entries(actor="张值班") == [c, a]
        assert store.audit_log.entries(action="read.warning") == [c, b]
        assert store.audit_log.entries(target="w-1") == [b, a]
        assert store.audit_log.entries(since=clock.now()) == [c, b]
        assert store.audit_log.entries(actor="张值班", action="read.warning") == [c]
        assert store.audit_log.entries(limit=1) == [c]

    def test_audit_many_writes_all_at_one_time_in_order(self, store: WarningStore, clock: ManualClock) -> None:
        entries = store.audit_log.append_many([record("read.warnings", "w-1"), record("read.warnings", "w-2")])
        assert [(e.target, e.at) for e in entries] == [("w-1", CLOCK_START), ("w-2", CLOCK_START)]
        assert entries[0].entry_id < entries[1].entry_id
        assert store.audit_log.entries() == entries[::-1]
        assert store.audit_log.append_many([]) == []

    def test_audit_many_writes_none_when_one_fails(self, store: WarningStore) -> None:
        with failing_audit_writes(), pytest.raises(AuditWriteFailed):
            store.audit_log.append_many([record("read.warnings", "w-1"), record("read.warnings", "w-2")])
        assert store.audit_log.entries() == []

    def test_audit_record_names_the_field_that_is_too_long(self) -> None:
        with pytest.raises(ValueError, match="action"):
            record("x" * 65)

    # ------------------------------------------------------------- a change and its audit entry: both or neither

    def test_transition_and_its_audit_entry_share_one_time(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning())
        clock.advance(timedelta(minutes=4))
        done = store.transitions.apply(
            "w-0001",
            S.acknowledged,
            actor="张值班",
            role="commander",
            reason="已到场",
            audit=lambda t: record("transition.acknowledge", detail=f"{t.from_status.value} → {t.to_status.value}"),
        )
        [entry] = store.audit_log.entries()
        assert (entry.action, entry.target, entry.detail) == ("transition.acknowledge", "w-0001", "new → acknowledged")
        assert entry.at == done.at == clock.now()
        assert store.transitions.of("w-0001") == [done]

    def test_illegal_transition_writes_neither(self, store: WarningStore) -> None:
        save(store, make_warning())
        act(store, "w-0001", S.acknowledged)
        with pytest.raises(IllegalTransition):
            store.transitions.apply(
                "w-0001", S.dispatched, actor="张值班", role="commander", reason="x", audit=record("transition.dispatch")
            )
        assert store.audit_log.entries() == []
        assert [t.to_status for t in store.transitions.of("w-0001")] == [S.acknowledged]
        assert store.warnings.get("w-0001").status is S.acknowledged  # type: ignore[union-attr]

    def test_failed_audit_write_rolls_the_transition_back(self, store: WarningStore) -> None:
        save(store, make_warning())
        with failing_audit_writes(), pytest.raises(AuditWriteFailed):
            store.transitions.apply(
                "w-0001", S.acknowledged, actor="张值班", role="commander", reason="x", audit=record("transition.acknowledge")
            )
        assert store.transitions.of("w-0001") == []
        assert store.warnings.get("w-0001").status is S.new  # type: ignore[union-attr]
        assert store.disposals.get("w-0001").acknowledged_at is None  # type: ignore[union-attr]
        assert store.audit_log.entries() == []
        # the store is usable afterwards and the same move succeeds with its entry
        store.transitions.apply("w-0001", S.acknowledged, actor="张值班", role="commander", reason="x", audit=record("transition.acknowledge"))
        assert [e.action for e in store.audit_log.entries()] == ["transition.acknowledge"]

    def test_failed_audit_write_rolls_the_approval_back(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning(level=Level.I))
        with failing_audit_writes(), pytest.raises(AuditWriteFailed):
            store.publications.approve("w-0001", actor="张值班", audit=record("approve"))
        assert store.publications.get("w-0001").public_version is None  # type: ignore[union-attr]
        clock.advance(timedelta(minutes=1))
        approved = store.publications.approve(
            "w-0001", actor="张值班", audit=lambda p: record("approve", detail=f"public version {p.public_version}")
        )
        [entry] = store.audit_log.entries()
        assert (entry.detail, entry.at) == ("public version 1", approved.approved_at)

    def test_failed_audit_write_rolls_silence_changes_back(self, store: WarningStore, clock: ManualClock) -> None:
        request = SilenceRequest(region_prefix="410105", ends_at=CLOCK_START + timedelta(hours=1), reason="检修")
        with failing_audit_writes(), pytest.raises(AuditWriteFailed):
            store.silences.add(request, created_by="张值班", audit=lambda s: record("silence.create", s.silence_id))
        assert store.silences.list() == []

        silence = store.silences.add(request, created_by="张值班", audit=lambda s: record("silence.create", s.silence_id))
        [created] = store.audit_log.entries()
        assert (created.target, created.at) == (silence.silence_id, silence.created_at)

        clock.advance(timedelta(minutes=10))
        with failing_audit_writes(), pytest.raises(AuditWriteFailed):
            store.silences.expire(silence.silence_id, actor="张值班", audit=record("silence.expire", silence.silence_id))
        assert store.silences.list(active_at=clock.now()) == [silence]  # still in force

        expired = store.silences.expire(silence.silence_id, actor="张值班", audit=record("silence.expire", silence.silence_id))
        assert [(e.action, e.at) for e in store.audit_log.entries(target=silence.silence_id)] == [
            ("silence.expire", expired.expired_at),
            ("silence.create", silence.created_at),
        ]

    # ------------------------------------------------------------- tokens

    def test_tokens_identify_and_revoke(self, store: WarningStore, clock: ManualClock) -> None:
        commander, commander_token = store.tokens.create("市指挥中心", Role.commander)
        clock.advance(timedelta(seconds=1))
        operator, operator_token = store.tokens.create("供水值班", Role.operator, "water_group")
        assert commander_token != operator_token
        assert store.tokens.identify(commander_token) == commander
        assert store.tokens.identify(operator_token) == Identity(
            token_id=operator.token_id, name="供水值班", role=Role.operator, department="water_group"
        )
        assert store.tokens.identify("rw_not-a-token") is None
        assert store.tokens.active() == [commander, operator]
        with store.engine.connect() as conn:
            stored = conn.execute(select(TokenRow.token_sha256)).scalars().all()
        assert commander_token not in stored and hashlib.sha256(commander_token.encode()).hexdigest() in stored

        store.tokens.revoke(commander.token_id)
        assert store.tokens.identify(commander_token) is None
        assert store.tokens.active() == [operator]
        with pytest.raises(UnknownToken):
            store.tokens.revoke(commander.token_id)

    def test_token_department_is_checked(self, store: WarningStore) -> None:
        with pytest.raises(ValueError, match="operator token needs --department"):
            store.tokens.create("x", Role.operator)
        with pytest.raises(ValueError, match="unknown department 'nowhere'"):
            store.tokens.create("x", Role.operator, "nowhere")
        assert store.tokens.active() == []

    # ------------------------------------------------------------- publication

    def test_auto_public_level_is_public_at_once(self, store: WarningStore) -> None:
        warning = make_warning(level=Level.III)
        save(store, warning)
        publication = store.publications.get("w-0001")
        assert publication is not None
        assert (publication.state, publication.public_version) == (PublicationState.public, 1)
        assert store.publications.public_warnings() == [warning]

    def test_high_level_waits_for_approval(self, store: WarningStore, clock: ManualClock) -> None:
        first = make_warning(level=Level.III)
        save(store, first)
        save(store, make_warning(version=2, msg_type=MsgType.update, level=Level.I))
        waiting = store.publications.get("w-0001")
        assert waiting is not None
        assert (waiting.state, waiting.public_version) == (PublicationState.awaiting_approval, 1)
        assert store.publications.public_warnings() == [first]  # the public still sees the approved version

        clock.advance(timedelta(minutes=2))
        approved = store.publications.approve("w-0001", actor="张指挥")
        assert approved == Publication(
            warning_id="w-0001",
            state=PublicationState.public,
            public_version=2,
            approved_by="张指挥",
            approved_at=clock.now(),
        )
        assert [(w.version, w.level) for w in store.publications.public_warnings()] == [(2, Level.I)]
        with pytest.raises(UnknownWarning):
            store.publications.approve("nope", actor="张指挥")

    def test_unapproved_high_level_is_not_public(self, store: WarningStore) -> None:
        save(store, make_warning(level=Level.II))
        assert store.publications.get("w-0001").public_version is None  # type: ignore[union-attr]
        assert store.publications.public_warnings() == []
        assert store.publications.get("nope") is None

    # ------------------------------------------------------------- feedback

    def test_feedback_gives_detector_precision(self, store: WarningStore, clock: ManualClock) -> None:
        save(store, make_warning(warning_id="a"))  # detectors surge.water and threshold.pressure
        save(store, make_warning(warning_id="b"))
        save(store, make_warning(warning_id="c", signals=make_warning().signals[:1]))  # surge.water only
        clock.advance(timedelta(minutes=40))
        act(store, "a", S.acknowledged)
        resolved = act(store, "a", S.resolved)
        assert store.outcomes.record(Feedback.of(resolved, "resolve")) is True
        assert store.outcomes.record(Feedback.of(resolved, "resolve")) is False  # redelivery
        for warning_id in ("b", "c"):
            assert store.outcomes.record(Feedback.of(act(store, warning_id, S.false_alarm), "false_alarm")) is True
        precision = {p.detector: p for p in store.outcomes.detector_precision()}
        assert precision["surge.water"] == DetectorPrecision(
            detector="surge.water", true_alarms=1, false_alarms=2, precision=1 / 3, mean_resolve_seconds=2400.0
        )
        assert precision["threshold.pressure"] == DetectorPrecision(
            detector="threshold.pressure", true_alarms=1, false_alarms=1, precision=0.5, mean_resolve_seconds=2400.0
        )

    def test_feedback_that_settles_nothing_and_reopening(self, store: WarningStore) -> None:
        save(store, make_warning())
        ack = act(store, "w-0001", S.acknowledged)
        assert store.outcomes.record(Feedback.of(ack, "acknowledge")) is True
        assert store.outcomes.detector_precision() == []
        resolved = act(store, "w-0001", S.resolved)
        store.outcomes.record(Feedback.of(resolved, "resolve"))
        assert {p.true_alarms for p in store.outcomes.detector_precision()} == {1}
        reopened = act(store, "w-0001", S.in_progress)
        store.outcomes.record(Feedback.of(reopened, "start"))
        assert store.outcomes.detector_precision() == []
        with pytest.raises(UnknownWarning):
            store.outcomes.record(Feedback.of(ack.model_copy(update={"warning_id": "nope"}), "acknowledge"))

    # ------------------------------------------------------------- health

    def test_health_snapshots_replace_per_component(self, store: WarningStore, clock: ManualClock) -> None:
        assert store.health.latest() == {}
        store.health.put("worker", {"lag": {"riskwatch.events": 12}, "warming_up": ["prophet"]})
        clock.advance(timedelta(seconds=10))
        store.health.put("worker", {"lag": {"riskwatch.events": 0}, "warming_up": []})
        store.health.put("api", {"sse_clients": 2}, at=CLOCK_START)
        assert store.health.latest() == {
            "api": HealthSnapshot(component="api", payload={"sse_clients": 2}, at=CLOCK_START),
            "worker": HealthSnapshot(
                component="worker", payload={"lag": {"riskwatch.events": 0}, "warming_up": []}, at=clock.now()
            ),
        }

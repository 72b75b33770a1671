"""Behaviour every `WarningStore` backend must show, shared by the SQLite and PostgreSQL tests.

A backend's test module subclasses `StoreContract` and provides a `store_factory` fixture: a
callable returning a `WarningStore` on a database that is fresh for each test (several calls
within one test open the same database) with the schema created.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from riskwatch.alerts.store import WarningStore, WarningVersionRow
from riskwatch.schemas import Level, MsgType, SignalKind, SignalSummary, Source, Warning, WarningStatus

StoreFactory = Callable[[], WarningStore]

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


class StoreContract:
    """The shared tests; subclasses supply the `store_factory` fixture."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> WarningStore:
        return store_factory()

    def test_round_trip(self, store: WarningStore) -> None:
        warning = make_warning()
        assert store.save(warning) is True
        assert store.get(warning.warning_id) == warning
        assert store.versions(warning.warning_id) == [warning]

    def test_get_missing(self, store: WarningStore) -> None:
        assert store.get("nope") is None
        assert store.versions("nope") == []

    def test_replay_same_version_is_noop(self, store: WarningStore) -> None:
        warning = make_warning()
        assert store.save(warning) is True
        assert store.save(warning) is False
        assert store.save(make_warning(title="changed but same version")) is False
        assert store.get(warning.warning_id) == warning
        assert version_rows(store, warning.warning_id) == 1

    def test_newer_version_updates(self, store: WarningStore) -> None:
        first = make_warning()
        second = make_warning(
            version=2, msg_type=MsgType.update, level=Level.II, updated_at=T0 + timedelta(minutes=10)
        )
        store.save(first)
        assert store.save(second) is True
        current = store.get(first.warning_id)
        assert current == second
        assert current is not None and current.level is Level.II
        assert store.versions(first.warning_id) == [first, second]
        assert version_rows(store, first.warning_id) == 2

    def test_older_version_does_not_overwrite(self, store: WarningStore) -> None:
        first = make_warning()
        second = make_warning(version=2, msg_type=MsgType.update, level=Level.I)
        third = make_warning(version=3, msg_type=MsgType.cancel, status=WarningStatus.cancelled)
        store.save(first)
        store.save(third)
        assert store.save(first) is False
        assert store.save(second) is False  # late arrival: kept in history only
        assert store.get(first.warning_id) == third
        assert [w.version for w in store.versions(first.warning_id)] == [1, 2, 3]

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
            store.save(w)
        ids = lambda ws: [w.warning_id for w in ws]  # noqa: E731
        assert ids(store.list()) == ["c", "b", "a"]
        assert ids(store.list(limit=2)) == ["c", "b"]
        assert ids(store.list(level=Level.I)) == ["c", "a"]
        assert ids(store.list(region_prefix="440305")) == ["c", "a"]
        assert ids(store.list(region_prefix="4403050")) == ["a"]
        assert ids(store.list(region_prefix="44030_")) == []  # no LIKE wildcards
        assert ids(store.list(category="gas")) == ["b"]
        assert ids(store.list(status=WarningStatus.resolved)) == ["c"]
        assert ids(store.list(since=T0 + timedelta(hours=1))) == ["c", "b"]
        # the same instant in another zone selects the same rows
        assert ids(store.list(since=(T0 + timedelta(hours=1)).astimezone(UTC))) == ["c", "b"]
        assert ids(store.list(level=Level.I, status=WarningStatus.new)) == ["a"]

    def test_counts_by_level(self, store: WarningStore) -> None:
        assert store.counts_by_level() == {level: 0 for level in Level}
        store.save(make_warning(warning_id="a", level=Level.I))
        store.save(make_warning(warning_id="b", level=Level.I))
        store.save(make_warning(warning_id="c", level=Level.IV))
        store.save(make_warning(warning_id="c", version=2, level=Level.II))
        assert store.counts_by_level() == {Level.I: 2, Level.II: 1, Level.III: 0, Level.IV: 0}

    def test_timestamps_are_aware_utc(self, store: WarningStore) -> None:
        warning = make_warning()
        store.save(warning)
        got = store.get(warning.warning_id)
        assert got is not None
        for value, original in ((got.first_seen, T0), (got.updated_at, T0), (got.signals[0].at, T0)):
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
            assert value == original
        assert got.first_seen.astimezone(CST).replace(tzinfo=None) == T0.replace(tzinfo=None)

    def test_naive_since_is_refused(self, store: WarningStore) -> None:
        with pytest.raises(ValueError, match="naive"):
            store.list(since=datetime(2026, 11, 23))

    def test_persists_across_instances(self, store_factory: StoreFactory) -> None:
        warning = make_warning()
        first = store_factory()
        first.save(warning)
        first.close()
        second = store_factory()
        assert second.get(warning.warning_id) == warning
        assert second.save(warning) is False

    def test_crash_mid_save_leaves_nothing_and_retry_works(
        self, store: WarningStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        warning = make_warning()

        def crash(*_args: Any) -> None:
            raise RuntimeError("worker killed")

        monkeypatch.setattr(store, "_record_version", crash)
        with pytest.raises(RuntimeError):
            store.save(warning)
        assert store.get(warning.warning_id) is None
        monkeypatch.undo()
        assert store.save(warning) is True
        assert store.save(warning) is False
        assert version_rows(store, warning.warning_id) == 1

    def test_concurrent_saves_apply_once(self, store_factory: StoreFactory) -> None:
        stores = [store_factory() for _ in range(2)]
        warning = make_warning()
        results: list[bool] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def worker(i: int) -> None:
            barrier.wait()
            try:
                results.append(stores[i % 2].save(warning))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(results) == [False] * 7 + [True]
        assert version_rows(stores[0], warning.warning_id) == 1

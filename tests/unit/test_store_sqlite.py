"""The warning store contract against a temporary SQLite file, plus SQLite specifics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from riskwatch.alerts.disposal.clock import Clock
from riskwatch.alerts.store.store import WarningStore
from tests.store_contract import DisposalContract, StoreContract, StoreFactory, make_warning, save


@pytest.fixture
def store_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    """Stores on one SQLite file per test, in a directory the store has to create."""
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'riskwatch.db'}"
    opened: list[WarningStore] = []

    def factory(clock: Clock | None = None) -> WarningStore:
        store = WarningStore(url, clock=clock)
        store.migrate()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


class TestSqliteStore(StoreContract):
    """Every shared behaviour on SQLite."""


class TestSqliteDisposal(DisposalContract):
    """The disposal queue on SQLite."""


def test_sqlite_pragmas(store_factory: StoreFactory) -> None:
    store = store_factory()
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_sqlite_stores_naive_utc_text(store_factory: StoreFactory) -> None:
    store = store_factory()
    save(store, make_warning())
    with store.engine.connect() as conn:
        raw = conn.execute(text("SELECT updated_at FROM warnings")).scalar_one()
    assert raw == "2026-11-23 01:30:15.123456"


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        WarningStore("mysql://u@localhost/db")

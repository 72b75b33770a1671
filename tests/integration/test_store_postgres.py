"""The warning store contract against a real PostgreSQL server (`postgres_url` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, text

from riskwatch.alerts.disposal.clock import Clock
from riskwatch.alerts.store.db import Base
from riskwatch.alerts.store.store import WarningStore
from tests.store_contract import DisposalContract, StoreContract, StoreFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def store_factory(postgres_url: str) -> Iterator[StoreFactory]:
    """Stores on the test server, with every table dropped and migrated afresh for each test."""
    admin = WarningStore(postgres_url)
    with admin.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    admin.migrate()
    opened: list[WarningStore] = [admin]

    def factory(clock: Clock | None = None) -> WarningStore:
        store = WarningStore(postgres_url, clock=clock)
        store.migrate()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


class TestPostgresStore(StoreContract):
    """Every shared behaviour on PostgreSQL."""


class TestPostgresDisposal(DisposalContract):
    """The disposal queue on PostgreSQL."""


def test_postgres_column_types(store_factory: StoreFactory) -> None:
    store = store_factory()
    columns = {c["name"]: c["type"] for c in inspect(store.engine).get_columns("warnings")}
    assert getattr(columns["updated_at"], "timezone", False) is True
    assert type(columns["signals"]).__name__ == "JSONB"

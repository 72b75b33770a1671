"""The unit of work every repository of one store shares: its engine, its clock, its transactions.

Reads run in plain sessions. A write runs in `write()`: one transaction (on SQLite it takes
the write lock at once), committed when the block ends and rolled back on any error. Helpers
that several repositories call with the caller's session (an audit entry, a transition, a
queue entry) write into that one transaction, so what must be atomic stays atomic: a state
change and its audit entry, a warning version and its disposal record.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskwatch.alerts.disposal.clock import Clock, require_aware
from riskwatch.alerts.store.db import upsert_for, write_engine

__all__ = ["Sessions"]


class Sessions:
    """Read sessions, write transactions, the dialect's UPSERT and "now" for one engine."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.insert: Callable[..., Any] = upsert_for(engine)
        """The dialect's `insert`, with `on_conflict_do_update/nothing`."""
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(write_engine(engine), expire_on_commit=False)

    def read(self) -> Session:
        """A session for reading (use as a context manager)."""
        return self._reads()

    def write(self) -> AbstractContextManager[Session]:
        """A session inside one write transaction: committed at the end of the block, rolled back on error."""
        return self._writes.begin()

    def now(self) -> datetime:
        """The clock's current time, in UTC."""
        return require_aware(self.clock.now(), "clock.now()")

    def at_or_now(self, at: datetime | None, what: str) -> datetime:
        """`at` in UTC (refused if naive), or now when it is None."""
        return self.now() if at is None else require_aware(at, what)

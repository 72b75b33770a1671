"""Snapshots of the pipeline's own health (consumer lag, warming-up detectors, dead letters).

Each component writes its latest snapshot; the feed shows them so a quiet screen is never
mistaken for a quiet city.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python
from sqlalchemy import select

from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import HealthRow

__all__ = ["HealthRepository", "HealthSnapshot"]


class HealthSnapshot(BaseModel):
    """The latest health report of one component (e.g. 'worker', 'lag')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    component: str = Field(min_length=1, max_length=64)
    payload: dict[str, Any]
    at: AwareDatetime


class HealthRepository:
    """One snapshot per component, each write replacing the last."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def put(self, component: str, payload: dict[str, Any], at: datetime | None = None) -> None:
        """Replace a component's health snapshot (taken at `at`, default now)."""
        snapshot = HealthSnapshot(component=component, payload=payload, at=self._sessions.at_or_now(at, "health at"))
        values = {"payload": to_jsonable_python(snapshot.payload), "at": snapshot.at}
        stmt = self._sessions.insert(HealthRow).values(component=component, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[HealthRow.component], set_={k: stmt.excluded[k] for k in values}
        )
        with self._sessions.write() as session:
            session.execute(stmt)

    def latest(self) -> dict[str, HealthSnapshot]:
        """The latest snapshot of every component, by component name."""
        with self._sessions.read() as session:
            return {
                row.component: HealthSnapshot(component=row.component, payload=row.payload, at=row.at)
                for row in session.scalars(select(HealthRow).order_by(HealthRow.component))
            }

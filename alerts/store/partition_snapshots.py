"""The detect and grade stages' state, one snapshot per consumer group, stage and partition.

Workers of one group share these rows, so the worker a partition moves to resumes from its
last snapshot, whichever worker took it. A snapshot records the next offset of its partition
that the state has not seen; the worker commits that offset only after the row is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import PartitionSnapshotRow

__all__ = ["PartitionSnapshot", "PartitionSnapshotRepository"]


@dataclass(frozen=True)
class PartitionSnapshot:
    """One stage's state for one partition, opaque bytes the stage itself reads back."""

    group_id: str
    stage: str
    partition: int
    offset: int
    format: int
    riskwatch_version: str
    blob: bytes
    saved_at: datetime


class PartitionSnapshotRepository:
    """Latest snapshot per (group, stage, partition), each write replacing the last."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def put(self, snapshot: PartitionSnapshot) -> None:
        """Replace the snapshot of the snapshot's group, stage and partition."""
        values = {
            "offset": snapshot.offset,
            "format": snapshot.format,
            "riskwatch_version": snapshot.riskwatch_version,
            "blob": snapshot.blob,
            "saved_at": self._sessions.at_or_now(snapshot.saved_at, "snapshot saved_at"),
        }
        stmt = self._sessions.insert(PartitionSnapshotRow).values(
            group_id=snapshot.group_id, stage=snapshot.stage, partition=snapshot.partition, **values
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[PartitionSnapshotRow.group_id, PartitionSnapshotRow.stage, PartitionSnapshotRow.partition],
            set_={k: stmt.excluded[k] for k in values},
        )
        with self._sessions.write() as session:
            session.execute(stmt)

    def get(self, group_id: str, stage: str, partition: int) -> PartitionSnapshot | None:
        """The latest snapshot of one partition, or None if it was never saved."""
        with self._sessions.read() as session:
            row = session.get(PartitionSnapshotRow, (group_id, stage, partition))
            return None if row is None else self._model(row)

    def offsets(self, group_id: str, stage: str) -> dict[int, int]:
        """Every saved partition of a stage and the offset its snapshot covers up to."""
        query = select(PartitionSnapshotRow.partition, PartitionSnapshotRow.offset).where(
            PartitionSnapshotRow.group_id == group_id, PartitionSnapshotRow.stage == stage
        )
        with self._sessions.read() as session:
            return {partition: offset for partition, offset in session.execute(query)}

    def clear(self, group_id: str) -> int:
        """Forget every snapshot of a group (its next workers start cold); how many there were."""
        with self._sessions.write() as session:
            result = session.execute(delete(PartitionSnapshotRow).where(PartitionSnapshotRow.group_id == group_id))
            return int(result.rowcount or 0)

    @staticmethod
    def _model(row: PartitionSnapshotRow) -> PartitionSnapshot:
        return PartitionSnapshot(
            group_id=row.group_id, stage=row.stage, partition=row.partition, offset=row.offset,
            format=row.format, riskwatch_version=row.riskwatch_version, blob=row.blob, saved_at=row.saved_at,
        )

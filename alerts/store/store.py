"""The warning store: one database, its schema, and one repository per kind of record.

SQLAlchemy 2 over SQLite (the embedded default) or PostgreSQL. `WarningStore` owns the
engine and the migrations and hands out the repositories, which share one `Sessions` (engine,
clock, transactions):

- `warnings`: current warnings and every version (saved with the disposal stage's plan)
- `transitions`: lifecycle moves, who, when and why
- `disposals`: the queue (department, tier, dues) and its escalations
- `silences`, `audit_log`, `tokens`, `publications`
- `outcomes`: feedback and each detector's precision
- `health`: the pipeline's health snapshots
- `partition_snapshots`: the stateful stages' state, per partition of their topics

The worker and the API write the same database, so every repository method is one short
transaction; rows that decide a change (a warning's status, a queue entry's dues) are locked
while deciding.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from riskwatch.alerts.disposal.clock import Clock, SystemClock
from riskwatch.alerts.store.audit import AuditLog
from riskwatch.alerts.store.db import make_engine
from riskwatch.alerts.store.disposals import DisposalRepository
from riskwatch.alerts.store.outcomes import OutcomeRepository
from riskwatch.alerts.store.partition_snapshots import PartitionSnapshotRepository
from riskwatch.alerts.store.pipeline_health import HealthRepository
from riskwatch.alerts.store.publications import PublicationRepository
from riskwatch.alerts.store.schema import upgrade
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.silences import SilenceRepository
from riskwatch.alerts.store.tokens import TokenRepository
from riskwatch.alerts.store.transitions import TransitionRepository
from riskwatch.alerts.store.warnings import WarningRepository
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RoutingConfig

__all__ = ["WarningStore"]


class WarningStore:
    """The store's engine, schema and repositories; safe to share between threads and processes.

    `routing` (default: the shipped `routing.yaml`) gives the escalation chain and deadlines
    the deadline check applies and the departments a token may name; `clock` (default: the
    system clock) is where every "now" comes from, so tests can move time by hand.
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
        sessions = Sessions(self.engine, self.clock)
        self.warnings = WarningRepository(sessions)
        self.transitions = TransitionRepository(sessions)
        self.disposals = DisposalRepository(sessions, self.routing)
        self.silences = SilenceRepository(sessions)
        self.audit_log = AuditLog(sessions)
        self.tokens = TokenRepository(sessions, self.routing.department_codes())
        self.publications = PublicationRepository(sessions)
        self.outcomes = OutcomeRepository(sessions)
        self.health = HealthRepository(sessions)
        self.partition_snapshots = PartitionSnapshotRepository(sessions)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic `upgrade head`); safe to run concurrently."""
        upgrade(self.engine)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

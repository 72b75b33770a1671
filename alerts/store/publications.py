"""What the public may see of each warning: its public version and who approved it.

A saved version updates the publication as the disposal stage planned it (`publish_as_planned`,
inside the save's transaction); a commander's approval publishes the current version.
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from riskwatch.alerts.disposal.lifecycle import UnknownWarning
from riskwatch.alerts.disposal.plan import DisposalPlan
from riskwatch.alerts.disposal.publication import Publication, PublicationState
from riskwatch.alerts.store.audit import AuditFor, write_audit
from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import PublicationRow, WarningRow, WarningVersionRow
from riskwatch.contracts import Warning

__all__ = ["PublicationRepository", "publish_as_planned"]


def _publication(row: PublicationRow) -> Publication:
    return Publication(
        warning_id=row.warning_id,
        state=PublicationState(row.state),
        public_version=row.public_version,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


def publish_as_planned(session: Session, plan: DisposalPlan) -> None:
    """Write the publication state `plan` gives the warning after its new version (in `session`)."""
    previous = session.get(PublicationRow, plan.warning_id, with_for_update=True)
    publication = plan.publication_after(_publication(previous) if previous else None)
    values = publication.model_dump(mode="python") | {"state": publication.state.value}
    if previous is None:
        session.add(PublicationRow(**values))
    else:
        for name, value in values.items():
            setattr(previous, name, value)


class PublicationRepository:
    """Reads publication states and public versions; records approvals."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def get(self, warning_id: str) -> Publication | None:
        """What the public may see of a warning, or None if it is unknown."""
        with self._sessions.read() as session:
            row = session.get(PublicationRow, warning_id)
            return _publication(row) if row is not None else None

    def approve(self, warning_id: str, *, actor: str, audit: AuditFor[Publication] | None = None) -> Publication:
        """Publish the warning's current version to the public feed (a commander's decision).

        `audit` (a record, or a function of the publication) is written in the same
        transaction, timed at the approval.
        """
        now = self._sessions.now()
        with self._sessions.write() as session:
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
            write_audit(session, audit, publication, now)
            return publication

    def public_warnings(self, limit: int = 100) -> list[Warning]:
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
        with self._sessions.read() as session:
            return [Warning.model_validate(payload) for payload in session.scalars(stmt)]

"""Turn store records into the views a caller may see (masking applied by the access policy)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from riskwatch.alerts.feed.access import transition_as_seen, view_of
from riskwatch.alerts.feed.changes import WarningChange
from riskwatch.alerts.feed.context import ApiContext
from riskwatch.alerts.feed.pipeline import pipeline_status
from riskwatch.alerts.feed.queries import department_of
from riskwatch.alerts.feed.views import PipelineStatus, VersionSummary, WarningDetail, WarningView
from riskwatch.alerts.store.errors import describe, is_transient
from riskwatch.alerts.store.tokens import Identity
from riskwatch.contracts import Warning

log = logging.getLogger(__name__)


def load_change(ctx: ApiContext, warning: Warning) -> WarningChange:
    """A warning with its publication and disposal, read from the store (blocking)."""
    return WarningChange(
        warning=warning,
        publication=ctx.store.publications.get(warning.warning_id),
        disposal=ctx.store.disposals.get(warning.warning_id),
    )


def _responsible(ctx: ApiContext, change: WarningChange) -> dict[str, str | None]:
    """`department` (as routed by the disposal queue) and its name, for the view."""
    department = department_of(change.warning, change.disposal)
    return {"department": department, "department_name": ctx.department_name(department)}


def warning_view(ctx: ApiContext, change: WarningChange, who: Identity) -> WarningView:
    """The list/stream view of a warning for `who`."""
    shown = view_of(change.warning, who, ctx.regions)
    return WarningView.build(
        shown,
        publication=change.publication,
        disposal=change.disposal,
        centroid=ctx.centroid(shown.region_code),
        **_responsible(ctx, change),
    )


def warning_detail(ctx: ApiContext, warning: Warning, who: Identity) -> WarningDetail:
    """The detail view with the whole timeline (blocking: several store reads)."""
    change = load_change(ctx, warning)
    shown = view_of(warning, who, ctx.regions)
    return WarningDetail.build(
        shown,
        publication=change.publication,
        disposal=change.disposal,
        centroid=ctx.centroid(shown.region_code),
        transitions=tuple(transition_as_seen(t, who) for t in ctx.store.transitions.of(warning.warning_id)),
        versions=tuple(VersionSummary.of(v) for v in ctx.store.warnings.versions(warning.warning_id)),
        escalations=tuple(ctx.store.disposals.escalations(warning.warning_id)),
        **_responsible(ctx, change),
    )


def current_pipeline(ctx: ApiContext) -> PipelineStatus:
    """The /api/pipeline body from the store's health snapshots (blocking); `store: unavailable`
    when the store does not answer, so the `health` event and the page say so instead of failing."""
    try:
        snapshots = ctx.store.health.latest()
    except SQLAlchemyError as exc:
        if not is_transient(exc):
            raise
        log.warning("pipeline status: store unavailable: %s", describe(exc))
        return PipelineStatus.store_unavailable()
    return pipeline_status(snapshots, now=ctx.clock.now(), stale_after=timedelta(seconds=ctx.options.stale_after))

"""Who am I, health, metrics, pipeline status, trends, detector precision and the city's map."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from riskwatch.alerts.disposal.outcomes import DetectorPrecision
from riskwatch.alerts.feed.auth import AnyCaller, Caller, Context
from riskwatch.alerts.feed.metrics import CONTENT_TYPE
from riskwatch.alerts.feed.presenter import current_pipeline
from riskwatch.alerts.feed.queries import first_seen_since
from riskwatch.alerts.feed.views import Me, PipelineStatus, TrendPoint, Trends

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])

HOURLY_UP_TO_DAYS = 2


@router.get("/healthz", responses={503: {"description": "the database is unreachable"}})
def healthz(ctx: Context) -> JSONResponse:
    """Liveness with a database round trip: 200 `{"status": "ok", "database": "ok"}` or 503."""
    try:
        with ctx.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable: %s", exc)
        return JSONResponse(
            {"status": "degraded", "database": f"unreachable: {type(exc).__name__}"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", response_class=Response)
def metrics(ctx: Context) -> Response:
    """Prometheus text exposition."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/me", response_model=Me)
def me(who: AnyCaller) -> Me:
    """The caller's token name, role and department."""
    return Me.of(who)


@router.get("/api/regions.geojson")
def regions() -> JSONResponse:
    """The sample city's districts, streets and grids (illustrative geometry; no token needed)."""
    from riskwatch.config.geo import load_geojson

    return JSONResponse(load_geojson(), media_type="application/geo+json")


@router.get("/api/pipeline", response_model=PipelineStatus)
def pipeline(ctx: Context, who: Caller) -> PipelineStatus:
    """Consumer lag, detectors warming up, dead-letter rate and whether health is stale."""
    return current_pipeline(ctx)


def _floor(at: datetime, bucket: str) -> datetime:
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def trends_of(
    rows: list[tuple[str, datetime]], *, now: datetime, days: int, names: Mapping[str, str] | None = None
) -> Trends:
    """Counts per category and bucket (hour up to 2 days, else day), every bucket present.

    `names` (category code → Chinese name) labels each series; unknown codes keep their code.
    """
    bucket = "hour" if days <= HOURLY_UP_TO_DAYS else "day"
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    start = _floor(now - timedelta(days=days), bucket)
    counts: dict[str, Counter[datetime]] = {}
    for category, first_seen in rows:
        counts.setdefault(category, Counter())[_floor(first_seen, bucket)] += 1
    edges: list[datetime] = []
    t = start
    while t <= now:
        edges.append(t)
        t += step
    return Trends(
        bucket=bucket,
        series={
            category: [TrendPoint(t=edge, count=per_bucket.get(edge, 0)) for edge in edges]
            for category, per_bucket in sorted(counts.items())
        },
        names={category: (names or {}).get(category, category) for category in sorted(counts)},
    )


@router.get("/api/trends", response_model=Trends)
def trends(ctx: Context, who: Caller, days: Annotated[int, Query(ge=1, le=366)] = 7) -> Trends:
    """Warnings first seen per category over the last `days` days."""
    now = ctx.clock.now()
    since = _floor(now - timedelta(days=days), "hour" if days <= HOURLY_UP_TO_DAYS else "day")
    return trends_of(first_seen_since(ctx.store.engine, since), now=now, days=days, names=ctx.category_names)


@router.get("/api/reports/detectors", response_model=list[DetectorPrecision])
def detector_precision(ctx: Context, who: Caller) -> list[DetectorPrecision]:
    """Each detector's precision on real outcomes (true vs false alarms from feedback)."""
    return ctx.store.outcomes.detector_precision()



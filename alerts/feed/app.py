"""The application factory: one FastAPI app around one warning store.

`create_app` wires the store, clock, access policy, routes, SSE change feed, background
tasks (change poller, health beat), the Kafka feedback publisher and
Prometheus metrics. Tests pass their own store (with a `ManualClock`) and publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from riskwatch.alerts.disposal.clock import Clock
from riskwatch.alerts.feed.access_log import install_token_masking
from riskwatch.alerts.feed.background import ChangePoller, every, health_once
from riskwatch.alerts.feed.changes import ChangeFeed
from riskwatch.alerts.feed.context import ApiContext
from riskwatch.alerts.feed.errors import install_error_handler
from riskwatch.alerts.feed.feedback_publisher import FeedbackPublisher, publisher_for
from riskwatch.alerts.feed.metrics import ApiMetrics
from riskwatch.alerts.feed.options import ApiOptions
from riskwatch.alerts.feed.presenter import current_pipeline
from riskwatch.alerts.feed.queries import warning_counts
from riskwatch.alerts.feed.routes import admin, cap, ops, stream, warnings, web
from riskwatch.alerts.feed.routes.web import STATIC_DIR
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RegionsConfig, RoutingConfig, TaxonomyConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.config.settings import Settings

__all__ = ["create_app", "store_for"]


def _region_index(settings: Settings) -> RegionIndex:
    directory = settings.config_dir or DEFAULT_CONFIG_DIR
    return RegionIndex(load_model(directory / "regions.yaml", RegionsConfig))


def _category_names(settings: Settings) -> dict[str, str]:
    directory = settings.config_dir or DEFAULT_CONFIG_DIR
    return {c.code: c.name for c in load_model(directory / "taxonomy.yaml", TaxonomyConfig).categories}


def store_for(settings: Settings, clock: Clock | None = None) -> WarningStore:
    """A store on `settings.database_url` routed by the configured city's `routing.yaml`."""
    directory = settings.config_dir or DEFAULT_CONFIG_DIR
    return WarningStore(settings.database_url, routing=load_model(directory / "routing.yaml", RoutingConfig), clock=clock)


def _route_template(request: Request) -> str:
    """The matched route's path template (bounded label values), or 'unmatched'."""
    return str(getattr(request.scope.get("route"), "path", "unmatched"))


def create_app(
    settings: Settings,
    *,
    store: WarningStore | None = None,
    clock: Clock | None = None,
    feedback_publisher: FeedbackPublisher | None = None,
    options: ApiOptions | None = None,
) -> FastAPI:
    """The API over `store` (default: a store on `settings.database_url`, closed with the app)."""
    owns_store = store is None
    store = store if store is not None else store_for(settings, clock)
    options = options or ApiOptions()
    metrics = ApiMetrics()
    feed = ChangeFeed(options.subscriber_queue, on_drop=metrics.feed_dropped.inc)
    ctx = ApiContext(
        settings=settings,
        options=options,
        store=store,
        clock=clock or store.clock,
        regions=_region_index(settings),
        feed=feed,
        publisher=feedback_publisher or publisher_for(settings),
        metrics=metrics,
        department_names={d.code: d.name for d in store.routing.departments},
        category_names=_category_names(settings),
    )
    metrics.sse_clients.set_function(lambda: feed.subscriber_count)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_token_masking()  # here, after the server has configured its logging
        await ctx.publisher.start()
        poller = ChangePoller(ctx)
        app.state.poller = poller
        with contextlib.suppress(Exception):  # an unreachable database is reported by /healthz, not fatal
            await poller.poll_once()  # fixes the feed's starting point before the first client
        tasks = [
            asyncio.create_task(every(options.poll_interval, "change poller", poller.poll_once)),
            asyncio.create_task(every(options.health_interval, "health beat", lambda: health_once(ctx))),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ctx.publisher.stop()
            if owns_store:
                store.close()

    app = FastAPI(
        title="riskwatch alert feed",
        summary="Graded warnings, their disposal, a live SSE feed and CAP 1.2 / Atom for the public.",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handler(app)
    metrics.watch_store(lambda: warning_counts(store.engine), lambda: current_pipeline(ctx))

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        metrics.requests.labels(request.method, _route_template(request), str(response.status_code)).inc()
        return response

    for module in (ops, warnings, admin, stream, cap, web):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    return app

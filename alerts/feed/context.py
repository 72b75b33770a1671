"""What every route needs, built once per app and kept on `app.state.ctx`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request

from riskwatch.alerts.disposal.clock import Clock
from riskwatch.alerts.feed.changes import ChangeFeed
from riskwatch.alerts.feed.feedback_publisher import FeedbackPublisher
from riskwatch.alerts.feed.metrics import ApiMetrics
from riskwatch.alerts.feed.options import ApiOptions
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.regions import RegionIndex
from riskwatch.config.settings import Settings


@dataclass
class ApiContext:
    """The store, clock, region index, change feed, feedback publisher and metrics of one app.

    `department_names` and `category_names` map codes to the Chinese names of `routing.yaml`
    and `taxonomy.yaml`, so views can show 市燃气公司 rather than gas_company.
    """

    settings: Settings
    options: ApiOptions
    store: WarningStore
    clock: Clock
    regions: RegionIndex
    feed: ChangeFeed
    publisher: FeedbackPublisher
    metrics: ApiMetrics
    department_names: Mapping[str, str] = field(default_factory=dict)
    category_names: Mapping[str, str] = field(default_factory=dict)

    def centroid(self, region_code: str) -> tuple[float, float] | None:
        """[lon, lat] of a region of the sample city, or None if the code is unknown."""
        info = self.regions.get(region_code)
        return (info.centroid[0], info.centroid[1]) if info is not None else None

    def department_name(self, code: str | None) -> str | None:
        """The department's name from routing.yaml; None for no department or an unknown code."""
        return self.department_names.get(code) if code is not None else None


def get_context(request: Request) -> ApiContext:
    """FastAPI dependency: the app's context."""
    ctx: ApiContext = request.app.state.ctx
    return ctx

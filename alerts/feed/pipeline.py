"""Summarise the pipeline's health snapshots into the /api/pipeline body.

Components (worker, detectors, ...) write snapshots with `store.health.put(component,
payload)`. This module reads these optional payload keys, from any component:

- `lag`: {topic: messages behind} — summed per topic across components;
- `warming_up`: [detector names] — united;
- `dead_letters_per_min`: number — summed.

`stale` is true when there is no snapshot at all or the newest is older than `stale_after`,
so a screen with no warnings because the pipeline stopped never looks like a quiet city.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from riskwatch.alerts.feed.views import ComponentHealth, PipelineStatus
from riskwatch.alerts.store.pipeline_health import HealthSnapshot


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def pipeline_status(snapshots: Mapping[str, HealthSnapshot], *, now: datetime, stale_after: timedelta) -> PipelineStatus:
    """Merge every component's newest snapshot; unknown or malformed keys are ignored."""
    lag: dict[str, int] = {}
    warming: set[str] = set()
    dead_letters = 0.0
    for snapshot in snapshots.values():
        payload = snapshot.payload
        if isinstance(payload.get("lag"), Mapping):
            for topic, value in payload["lag"].items():
                if (n := _number(value)) is not None:
                    lag[str(topic)] = lag.get(str(topic), 0) + int(n)
        if isinstance(payload.get("warming_up"), list | tuple):
            warming.update(str(name) for name in payload["warming_up"])
        if (rate := _number(payload.get("dead_letters_per_min"))) is not None:
            dead_letters += rate
    newest = max((s.at for s in snapshots.values()), default=None)
    return PipelineStatus(
        components={
            name: ComponentHealth(payload=s.payload, at=s.at) for name, s in sorted(snapshots.items())
        },
        lag=dict(sorted(lag.items())),
        warming_up=sorted(warming),
        dead_letters_per_min=dead_letters,
        stale=newest is None or now - newest > stale_after,
    )

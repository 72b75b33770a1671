"""Build the configured detectors of `detectors.yaml`: a type name → factory map, imported lazily.

Each type's params model is `riskwatch.config.detector_params` (validated when the config is
loaded); its factory turns those params and the taxonomy into a detector. Factories are named
as "module:attribute" and imported on first use, so Prophet and PyOD load only when a config
uses them. Every built detector runs behind its spec's watch filters and under its configured name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from riskwatch.config.detector_params import validated_params
from riskwatch.config.models import DetectorsConfig, DetectorSpec, TaxonomyConfig, Watch
from riskwatch.config.stations import StationsConfig
from riskwatch.contracts import Event, Signal
from riskwatch.detectors.base import Detector, detector_state, is_warming_up, renamed, restore_detector_state
from riskwatch.detectors.lazy import LazyRegistry

#: A factory: the type's validated params model, the taxonomy and the stations in, a fresh detector out.
DetectorFactory = Callable[[Any, TaxonomyConfig, StationsConfig], Detector]

#: Detector type name → its factory, keyed like `riskwatch.config.detector_params.DETECTOR_PARAMS`.
DETECTOR_FACTORIES: LazyRegistry[DetectorFactory] = LazyRegistry(
    "detector type",
    {
        "sensor_baseline": "riskwatch.detectors.factories:sensor_baseline",
        "series_anomaly": "riskwatch.detectors.factories:series_anomaly",
        "sensor_health": "riskwatch.detectors.factories:sensor_health",
        "count_surge": "riskwatch.detectors.factories:count_surge",
        "prophet_trend": "riskwatch.detectors.factories:prophet_trend",
        "burst": "riskwatch.detectors.factories:burst",
        "alarm_limits": "riskwatch.detectors.factories:alarm_limits",
        "rules": "riskwatch.detectors.factories:rules",
        "station_anomaly": "riskwatch.detectors.factories:station_anomaly",
    },
)


def watch_matches(watch: Watch, event: Event) -> bool:
    """Whether an event passes a detector's source / category / metric / region filters."""
    return (
        (not watch.sources or event.source in watch.sources)
        and (not watch.categories or event.category in watch.categories)
        and (not watch.metrics or event.metric in watch.metrics)
        and (not watch.regions or any(event.region_code.startswith(prefix) for prefix in watch.regions))
    )


def spec_digest(spec: DetectorSpec) -> str:
    """A fingerprint of everything configured for one detector: equal digests, same detector.

    Saved state is restored, and kept across a config reload, only into a detector whose spec
    has the same digest.
    """
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)  # key order is not meaning
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


class Watched:
    """A detector behind its config's filters, emitting signals under the config's name.

    Two configured detectors of one type get distinct names, so their signals (and signal
    ids) never collide. `digest` fingerprints the spec it was built from (`spec_digest`).
    """

    def __init__(self, name: str, watch: Watch, inner: Detector, digest: str = "") -> None:
        self.name = name
        self.watch = watch
        self.inner = inner
        self.digest = digest
        self._inner_name = inner.name

    def get_state(self) -> dict[str, Any]:
        """The inner detector's state (see `detector_state`)."""
        return detector_state(self.inner)

    def set_state(self, state: dict[str, Any]) -> None:
        restore_detector_state(self.inner, state)

    def accepts(self, event: Event) -> bool:
        return watch_matches(self.watch, event) and self.inner.accepts(event)

    def observe(self, event: Event) -> list[Signal]:
        return [self._rename(signal) for signal in self.inner.observe(event)]

    def warming_up(self) -> bool:
        """The inner detector's answer (`base.is_warming_up`); False if it has no warm-up."""
        return is_warming_up(self.inner)

    def _rename(self, signal: Signal) -> Signal:
        # Keep a variant suffix such as "/cold_start" that the inner detector adds.
        suffix = signal.detector.removeprefix(self._inner_name) if signal.detector.startswith(self._inner_name) else ""
        return renamed(signal, self.name, suffix)


def build_detector(index: int, spec: DetectorSpec, taxonomy: TaxonomyConfig, stations: StationsConfig | None = None) -> Watched:
    """One configured detector, fresh (no state), behind its watch filters.

    `stations` (`stations.yaml`) is what `station_anomaly` watches; without it, no station.
    """
    params = validated_params(index, spec, taxonomy)
    inner = DETECTOR_FACTORIES.load(spec.type)(params, taxonomy, stations or StationsConfig())
    return Watched(spec.name, spec.watch, inner, spec_digest(spec))


def build_detectors(config: DetectorsConfig, taxonomy: TaxonomyConfig, stations: StationsConfig | None = None) -> list[Detector]:
    """Every enabled detector of the config, in config order."""
    return [build_detector(index, spec, taxonomy, stations) for index, spec in enumerate(config.detectors) if spec.enabled]


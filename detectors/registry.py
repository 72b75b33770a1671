"""Build the configured detectors from `detectors.yaml`: a type name → (params model, factory) map.

Heavy detectors (Prophet, PyOD) are imported only when a config uses them. Every spec's
`params` is validated against its type's pydantic model, so a bad parameter fails at load with
the detector's index and the field.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from riskwatch.config.models import DetectorSpec, DetectorsConfig, HardRule, TaxonomyConfig, Watch
from riskwatch.detectors.base import Detector, detector_state, is_warming_up, restore_detector_state
from riskwatch.contracts import Event, Signal, stable_id


@dataclass(frozen=True)
class DetectorType:
    """Where a detector type's parameter model and factory live ("module:attribute")."""

    params_model: str
    factory: str

    def load_params_model(self) -> type[BaseModel]:
        return _load(self.params_model)

    def build(self, params: BaseModel, taxonomy: TaxonomyConfig) -> Detector:
        factory: Callable[[BaseModel, TaxonomyConfig], Detector] = _load(self.factory)
        return factory(params, taxonomy)


def _load(target: str) -> Any:
    module_name, attribute = target.split(":")
    return getattr(importlib.import_module(module_name), attribute)


DETECTOR_TYPES: dict[str, DetectorType] = {
    "sensor_baseline": DetectorType("riskwatch.config.models:SensorBaselineConfig", "riskwatch.detectors.factories:sensor_baseline"),
    "count_surge": DetectorType("riskwatch.config.models:CountSurgeConfig", "riskwatch.detectors.factories:count_surge"),
    "alarm_limits": DetectorType("riskwatch.detectors.factories:NoParams", "riskwatch.detectors.factories:alarm_limits"),
    "prophet_trend": DetectorType(
        "riskwatch.detectors.prophet_trend:ProphetTrendConfig", "riskwatch.detectors.factories:prophet_trend"
    ),
    "sensor_health": DetectorType(
        "riskwatch.detectors.sensor_health:SensorHealthConfig", "riskwatch.detectors.factories:sensor_health"
    ),
    "burst": DetectorType("riskwatch.detectors.burst:BurstConfig", "riskwatch.detectors.factories:burst"),
    "rules": DetectorType("riskwatch.detectors.rules:RuleSet", "riskwatch.detectors.rules:RulesDetector"),
    "series_anomaly": DetectorType(
        "riskwatch.detectors.series_anomaly:SeriesAnomalyParams", "riskwatch.detectors.series_anomaly:SeriesAnomalyDetector"
    ),
}


class ParamsError(ValueError):
    """A detector's params do not match its type; `field` is the dotted path inside the spec."""

    def __init__(self, index: int, spec: DetectorSpec, error: ValidationError | str) -> None:
        if isinstance(error, str):
            lines = [f"detectors.{index}.type: {error}"]
        else:
            lines = [
                f"detectors.{index}.params.{'.'.join(str(p) for p in item['loc'])}: {item['msg']}"
                + ("" if isinstance(item.get("input"), dict | list) else f" (got {item.get('input')!r})")
                for item in error.errors()
            ]
        super().__init__(f"detector {spec.name!r} ({spec.type}): " + "; ".join(lines))


def validated_params(index: int, spec: DetectorSpec, taxonomy: TaxonomyConfig | None = None) -> BaseModel:
    """The spec's params as its type's model; the taxonomy lets rules check metric and category names."""
    kind = DETECTOR_TYPES.get(spec.type)
    if kind is None:
        raise ParamsError(index, spec, f"type {spec.type!r} is not available; known: {sorted(DETECTOR_TYPES)}")
    try:
        return kind.load_params_model().model_validate(spec.params, context={"taxonomy": taxonomy})
    except ValidationError as exc:
        raise ParamsError(index, spec, exc) from exc


def check_specs(config: DetectorsConfig, taxonomy: TaxonomyConfig | None = None) -> None:
    """Validate every spec's params; raise `ParamsError` on the first bad one."""
    for index, spec in enumerate(config.detectors):
        validated_params(index, spec, taxonomy)


def rule_levels(config: DetectorsConfig, taxonomy: TaxonomyConfig) -> list[HardRule]:
    """Least levels that enabled analyst rules give their warnings, for grading."""
    levels: list[HardRule] = []
    for index, spec in enumerate(config.detectors):
        if spec.enabled and spec.type == "rules":
            levels += validated_params(index, spec, taxonomy).hard_rules()  # type: ignore[attr-defined]
    return levels


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
        return signal.model_copy(
            update={"detector": self.name + suffix, "signal_id": stable_id(self.name, signal.signal_id)}
        )


def build_detector(index: int, spec: DetectorSpec, taxonomy: TaxonomyConfig) -> Watched:
    """One configured detector, fresh (no state), behind its watch filters."""
    params = validated_params(index, spec, taxonomy)
    inner = DETECTOR_TYPES[spec.type].build(params, taxonomy)
    return Watched(spec.name, spec.watch, inner, spec_digest(spec))


def build_detectors(config: DetectorsConfig, taxonomy: TaxonomyConfig) -> list[Detector]:
    """Every enabled detector of the config, in config order."""
    return [build_detector(index, spec, taxonomy) for index, spec in enumerate(config.detectors) if spec.enabled]


def params_of(config: DetectorsConfig, name: str, taxonomy: TaxonomyConfig | None = None) -> BaseModel:
    """The validated params of the configured detector called `name`."""
    for index, spec in enumerate(config.detectors):
        if spec.name == name:
            return validated_params(index, spec, taxonomy)
    raise KeyError(f"no detector named {name!r}; configured: {[s.name for s in config.detectors]}")

"""Build the enabled detectors from `detectors.yaml` (a name → class map, no Kafka)."""

from __future__ import annotations

from riskwatch.config.models import DetectorsConfig, TaxonomyConfig
from riskwatch.detectors.alarm_limits import AlarmLimitDetector
from riskwatch.detectors.base import Detector
from riskwatch.detectors.count_surge import CountSurgeDetector
from riskwatch.detectors.sensor_baseline import SensorBaselineDetector


def build_detectors(config: DetectorsConfig, taxonomy: TaxonomyConfig) -> list[Detector]:
    """Every detector the config enables, in a fixed order."""
    detectors: list[Detector] = []
    if config.alarm_limits.enabled:
        detectors.append(AlarmLimitDetector(taxonomy))
    if config.sensor_baseline.enabled:
        detectors.append(SensorBaselineDetector(config.sensor_baseline, taxonomy))
    if config.count_surge.enabled:
        detectors.append(CountSurgeDetector(config.count_surge))
    return detectors

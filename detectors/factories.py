"""Factories that turn a validated params model into a detector, one per detector type."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from riskwatch.config.models import CountSurgeConfig, SensorBaselineConfig, TaxonomyConfig
from riskwatch.detectors.alarm_limits import AlarmLimitDetector
from riskwatch.detectors.base import Detector
from riskwatch.detectors.burst import BurstConfig, BurstDetector
from riskwatch.detectors.count_surge import CountSurgeDetector
from riskwatch.detectors.sensor_health import SensorHealthConfig, SensorHealthDetector
from riskwatch.detectors.sensor_baseline import SensorBaselineDetector


class NoParams(BaseModel):
    """For detector types that take no parameters."""

    model_config = ConfigDict(extra="forbid")


def sensor_baseline(params: SensorBaselineConfig, taxonomy: TaxonomyConfig) -> SensorBaselineDetector:
    return SensorBaselineDetector(params, taxonomy)


def count_surge(params: CountSurgeConfig, taxonomy: TaxonomyConfig) -> CountSurgeDetector:
    return CountSurgeDetector(params)


def alarm_limits(params: NoParams, taxonomy: TaxonomyConfig) -> AlarmLimitDetector:
    return AlarmLimitDetector(taxonomy)


def burst(params: BurstConfig, taxonomy: TaxonomyConfig) -> BurstDetector:
    return BurstDetector(params)


def prophet_trend(params: BaseModel, taxonomy: TaxonomyConfig) -> Detector:
    from riskwatch.detectors.prophet_trend import ProphetTrendDetector  # heavy: Prophet and pandas

    return ProphetTrendDetector(params)  # type: ignore[arg-type]


def sensor_health(params: SensorHealthConfig, taxonomy: TaxonomyConfig) -> SensorHealthDetector:
    return SensorHealthDetector(params)

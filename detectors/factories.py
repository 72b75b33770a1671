"""One factory per detector type: its validated params model, the taxonomy and the stations in, a detector out.

`registry.DETECTOR_FACTORIES` names these by type. Nothing here imports Prophet or PyOD: the
Prophet detector imports it on its first fit, a series model when it is built.
"""

from __future__ import annotations

from riskwatch.config.detector_params import (
    BurstConfig,
    CountSurgeConfig,
    NoParams,
    ProphetTrendConfig,
    SensorBaselineConfig,
    SensorHealthConfig,
    SeriesAnomalyParams,
    StationAnomalyParams,
)
from riskwatch.config.models import TaxonomyConfig
from riskwatch.config.rules import RuleSet
from riskwatch.config.stations import StationsConfig
from riskwatch.detectors.alarm_limits import AlarmLimitDetector
from riskwatch.detectors.burst import BurstDetector
from riskwatch.detectors.count_surge import CountSurgeDetector
from riskwatch.detectors.prophet_trend import ProphetTrendDetector
from riskwatch.detectors.rules import RulesDetector
from riskwatch.detectors.sensor_baseline import SensorBaselineDetector
from riskwatch.detectors.sensor_health import SensorHealthDetector
from riskwatch.detectors.series_anomaly import SeriesAnomalyDetector
from riskwatch.detectors.station_anomaly import StationAnomalyDetector


def sensor_baseline(params: SensorBaselineConfig, taxonomy: TaxonomyConfig, stations: StationsConfig) -> SensorBaselineDetector:
    return SensorBaselineDetector(params, taxonomy)


def series_anomaly(params: SeriesAnomalyParams, taxonomy: TaxonomyConfig, stations: StationsConfig) -> SeriesAnomalyDetector:
    return SeriesAnomalyDetector(params, taxonomy)


def sensor_health(params: SensorHealthConfig, taxonomy: TaxonomyConfig, stations: StationsConfig) -> SensorHealthDetector:
    return SensorHealthDetector(params, taxonomy)


def count_surge(params: CountSurgeConfig, taxonomy: TaxonomyConfig, stations: StationsConfig) -> CountSurgeDetector:
    return CountSurgeDetector(params, taxonomy)


def prophet_trend(params: ProphetTrendConfig, taxonomy: TaxonomyConfig, stations: StationsConfig) -> ProphetTrendDetector:
    return ProphetTrendDetector(params, taxonomy)


def burst(params: BurstConfig, taxonomy: TaxonomyConfig, stations: StationsConfig) -> BurstDetector:
    return BurstDetector(params, taxonomy)


def alarm_limits(params: NoParams, taxonomy: TaxonomyConfig, stations: StationsConfig) -> AlarmLimitDetector:
    return AlarmLimitDetector(taxonomy)


def rules(params: RuleSet, taxonomy: TaxonomyConfig, stations: StationsConfig) -> RulesDetector:
    return RulesDetector(params, taxonomy)


def station_anomaly(params: StationAnomalyParams, taxonomy: TaxonomyConfig, stations: StationsConfig) -> StationAnomalyDetector:
    return StationAnomalyDetector(params, taxonomy, stations)

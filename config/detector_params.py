"""One typed params model per detector type, and the map from a type's name to its model.

`detectors.yaml` gives each detector a `type` and its `params`; the params are validated here,
against the type's model, when the config is loaded — without importing any detector (some
pull in Prophet or PyOD). The detectors take these models as their parameters, so a parameter
is declared once, with its default, bounds and description.

A bad parameter fails at load with the detector's index and the field
(`detectors.2.params.min_count: ...`); the loader prefixes the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from riskwatch.config.models import DetectorsConfig, DetectorSpec, HardRule, TaxonomyConfig
from riskwatch.config.rules import RuleSet
from riskwatch.contracts import Source

DAY = timedelta(days=1)


class _Params(BaseModel):
    """Every params model: unknown keys are errors, and a validated model is never changed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_Params):
    """Params of `alarm_limits`, which takes none (its limits are the taxonomy's)."""


# --------------------------------------------------------------------------- sensor_baseline


class SensorBaselineConfig(_Params):
    """Params of `sensor_baseline`: rolling median/MAD per sensor series."""

    window: Annotated[int, Field(ge=5, description="Readings in the rolling baseline")] = 48
    warmup: Annotated[int, Field(ge=3)] = 12
    z_threshold: Annotated[float, Field(gt=0)] = 4.0
    min_scale_fraction: Annotated[float, Field(ge=0)] = Field(
        default=0.01, description="Floor on the robust scale, as a fraction of the metric's valid range"
    )


# --------------------------------------------------------------------------- count_surge


class CountSurgeConfig(_Params):
    """Params of `count_surge`: event-time bucket counts vs a rolling baseline."""

    sources: list[Source] = Field(default_factory=lambda: [Source.hotline, Source.police])
    bucket: timedelta = Field(default=timedelta(minutes=30))
    history_buckets: Annotated[int, Field(ge=3)] = 48
    warmup_buckets: Annotated[int, Field(ge=1)] = 6
    min_count: Annotated[int, Field(ge=1)] = 4
    z_threshold: Annotated[float, Field(gt=0)] = 3.0
    region_level: str = Field(default="street", pattern=r"^(grid|street|district)$")
    rhythm: bool = Field(
        default=True,
        description=(
            "Also require the count to be improbable for a Poisson count at the series' mean scaled by the current "
            "volume of its source against the baseline's (the time-of-day rhythm a day's mean flattens)"
        ),
    )


# --------------------------------------------------------------------------- sensor_health


class SensorHealthConfig(_Params):
    """Params of `sensor_health`: when a sensor series counts as stuck, flat-lined or silent."""

    enabled: bool = True
    history: Annotated[int, Field(ge=10, description="Readings (and intervals) kept as the series' normal behaviour")] = 288
    min_history: Annotated[int, Field(ge=3, description="Readings needed before stuck and flat are judged")] = 24
    stuck_readings: Annotated[int, Field(ge=3, description="Shortest run of one value that can be called stuck")] = 12
    stuck_probability: Annotated[
        float,
        Field(gt=0, lt=1, description="A run is stuck when the series' repeat rate makes it less likely than this"),
    ] = 1e-4
    flat_window: Annotated[int, Field(ge=3, description="Readings over which the recent spread is measured")] = 12
    flat_ratio: Annotated[
        float, Field(gt=0, lt=1, description="Flat when the recent spread falls below this fraction of the usual")
    ] = 0.1
    gap_factor: Annotated[float, Field(gt=1, description="A gap is this many usual intervals without a reading")] = 3.0
    min_intervals: Annotated[int, Field(ge=2, description="Intervals seen before gaps are judged")] = 6

    @model_validator(mode="after")
    def _fits_in_history(self) -> SensorHealthConfig:
        if self.min_history > self.history:
            raise ValueError(f"min_history ({self.min_history}) cannot exceed history ({self.history})")
        if self.min_intervals > self.history:
            raise ValueError(f"min_intervals ({self.min_intervals}) cannot exceed history ({self.history})")
        return self


# --------------------------------------------------------------------------- burst


class BurstConfig(_Params):
    """Params of `burst`: the space-time cluster scan of related reports."""

    enabled: bool = True
    sources: list[Source] = Field(
        default_factory=lambda: [Source.hotline, Source.police],
        description="Report sources scanned; each source is scanned on its own so sources stay independent evidence",
    )
    categories: list[str] = Field(default_factory=list, description="Categories scanned; empty means every category")
    category_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Categories counted together as related reports (group name → categories)",
    )
    window: timedelta = Field(default=timedelta(minutes=30), description="Event-time span of a cluster")
    radius_m: Annotated[float, Field(gt=0, description="Radius of a cluster around each report, metres")] = 500.0
    min_events: Annotated[int, Field(ge=2, description="Fewer related reports than this are never a burst")] = 4
    p_threshold: Annotated[float, Field(gt=0, lt=1, description="Poisson tail probability at or below which a cluster is a burst")] = 1e-5
    background_half_life: timedelta = Field(
        default=timedelta(days=7), description="Half-life of the background rate per cell, in event time"
    )
    warmup: timedelta = Field(
        default=timedelta(hours=12),
        description="Event time the background must cover before any burst is signalled (no cold-start alarms)",
    )
    min_expected: Annotated[float, Field(gt=0, description="Floor on the expected count of a cluster")] = 0.05
    lateness: timedelta = Field(
        default=timedelta(hours=1), description="How long past the window a report is kept for late arrivals"
    )
    regrow_factor: Annotated[float, Field(gt=1, description="A signalled cluster signals again once its count grows by this factor")] = 1.5
    max_evidence: Annotated[int, Field(ge=1)] = 50

    @model_validator(mode="after")
    def _consistent(self) -> BurstConfig:
        for name in ("window", "background_half_life"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        for name in ("warmup", "lateness"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must not be negative")
        grouped = [c for members in self.category_groups.values() for c in members]
        repeated = sorted({c for c in grouped if grouped.count(c) > 1})
        if repeated:
            raise ValueError(f"a category may belong to only one category group, repeated: {repeated}")
        return self


# --------------------------------------------------------------------------- prophet_trend


class ProphetTrendConfig(_Params):
    """Params of `prophet_trend`: Prophet count trends and surges (all durations are event time)."""

    enabled: bool = True
    sources: list[Source] = Field(default_factory=lambda: [Source.hotline, Source.police])
    region_level: str = Field(default="street", pattern=r"^(grid|street|district)$")
    resolution: timedelta = Field(default=timedelta(hours=1), description="Bucket size; must divide a day")
    utc_offset: timedelta = Field(
        default=timedelta(hours=8), description="Local wall clock for buckets, days, seasonality and holidays (China: +8, no DST)"
    )
    # --- when Prophet is used and refitted
    history_needed: timedelta = Field(default=timedelta(days=7), description="History a series needs before Prophet is used")
    history_cap: timedelta = Field(default=timedelta(days=28), description="At most this much history is fitted and kept")
    refit_every: timedelta = Field(
        default=timedelta(hours=24),
        description="Refit grid (from local midnight); a series is refitted lazily on its first event after a grid point",
    )
    forecast_slack: timedelta = Field(
        default=timedelta(hours=12), description="Forecast this far beyond the next due refit, for quiet series"
    )
    late_window: timedelta = Field(
        default=timedelta(hours=6), description="Forecasts kept for buckets this far behind a series' newest, for late events"
    )
    min_events_per_day: Annotated[float, Field(ge=0)] = Field(
        default=1.0, description="Sparser series stay on the cold-start baseline: a model of near-zeros is not worth a fit"
    )
    # --- the model
    interval_width: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.99
    uncertainty_samples: Annotated[int, Field(ge=50, le=5000)] = 300
    daily_seasonality: bool = True
    weekly_seasonality: bool = True
    daily_fourier_order: Annotated[int, Field(ge=1, le=30)] = 4
    weekly_fourier_order: Annotated[int, Field(ge=1, le=30)] = Field(
        default=3, description="Prophet's default; more overfits a week or two of hourly data"
    )
    country_holidays: str | None = Field(default="CN", description="Prophet's add_country_holidays country; null for none")
    changepoint_prior_scale: Annotated[float, Field(gt=0)] = 0.05
    changepoint_range: Annotated[float, Field(gt=0, le=1)] = 0.9
    seasonality_prior_scale: Annotated[float, Field(gt=0)] = 10.0
    transform: Literal["sqrt", "none"] = Field(
        default="sqrt",
        description="Fit √(count + 3/8) (Anscombe) so Poisson-like counts get intervals that widen with the level",
    )
    algorithm: Literal["LBFGS", "Newton", "BFGS"] | None = Field(default=None, description="Stan optimizer; None = Prophet's choice")
    seed: int = 20261123
    # --- surges
    min_count: Annotated[int, Field(ge=1)] = 4
    rescore_step: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.1, description="A bucket already flagged is signalled again only when its score rose by this much"
    )
    # --- sustained growth
    growth_window: timedelta = Field(default=timedelta(days=3), description="Trend growth is measured over this span")
    growth_history_needed: timedelta = Field(
        default=timedelta(days=14),
        description="History before growth is judged: with one week a trend and a weekly rhythm cannot be told apart",
    )
    growth_threshold: Annotated[float, Field(gt=0)] = Field(default=0.3, description="Relative growth (0.3 = +30%) that is a signal")
    growth_min_per_day: Annotated[float, Field(ge=0)] = Field(
        default=10.0, description="Growth of series with fewer reports a day than this is not signalled"
    )
    # --- cold start (the robust rolling baseline of CountSurgeDetector, same buckets)
    cold_start_history_buckets: Annotated[int, Field(ge=3)] = 48
    cold_start_warmup_buckets: Annotated[int, Field(ge=1)] = 6
    cold_start_z_threshold: Annotated[float, Field(gt=0)] = 3.0

    @model_validator(mode="after")
    def _consistent(self) -> ProphetTrendConfig:
        res = self.resolution
        if res < timedelta(minutes=5) or DAY % res:
            raise ValueError(f"resolution {res} must be at least 5 minutes and divide a day")
        for name in ("history_needed", "history_cap", "refit_every", "growth_window", "growth_history_needed"):
            value: timedelta = getattr(self, name)
            if value < res or value % res:
                raise ValueError(f"{name} {value} must be a positive multiple of the resolution {res}")
        if DAY % self.refit_every and self.refit_every % DAY:
            raise ValueError(f"refit_every {self.refit_every} must divide a day or be whole days")
        if self.history_cap < self.history_needed:
            raise ValueError("history_cap must be at least history_needed")
        if self.history_needed < 2 * DAY:
            raise ValueError("history_needed must be at least 2 days for a seasonal model")
        if not 2 * self.growth_window <= self.growth_history_needed <= self.history_cap:
            raise ValueError("growth_history_needed must hold two growth windows and fit in history_cap")
        if abs(self.utc_offset) > timedelta(hours=14):
            raise ValueError("utc_offset must be within ±14 h")
        return self

    def cold_start_config(self) -> CountSurgeConfig:
        return CountSurgeConfig(
            sources=self.sources,
            bucket=self.resolution,
            history_buckets=self.cold_start_history_buckets,
            warmup_buckets=self.cold_start_warmup_buckets,
            min_count=self.min_count,
            z_threshold=self.cold_start_z_threshold,
            region_level=self.region_level,
            rhythm=False,  # one instance per series: no source-wide volume to scale by
        )


# --------------------------------------------------------------------------- series_anomaly

_ROBUST_PARAMETERS = frozenset(
    {"history", "warmup", "scales", "vol_window", "seasonal", "seasonal_scales", "refractory", "echo", "scale",
     "features", "min_reference"}
)
_PYOD_PARAMETERS = frozenset(
    {"warmup", "refit_every", "train_window", "windows", "profiles", "seed", "model_params", "exclude_above", "exclude_min_keep"}
)

#: Series models a `series_anomaly` detector can name, with the `model_params` each accepts (its
#: constructor's keyword parameters). The models themselves are `riskwatch.detectors.series`;
#: tests/unit/test_series_detectors.py keeps this table equal to that registry and to the
#: constructors, so a typo fails here, at config load, without importing PyOD.
SERIES_MODELS: Mapping[str, frozenset[str]] = {
    "default": _ROBUST_PARAMETERS,
    "robust": _ROBUST_PARAMETERS,
    "ecod": _PYOD_PARAMETERS,
    "iforest": _PYOD_PARAMETERS,
    "copod": _PYOD_PARAMETERS,
    "hbos": _PYOD_PARAMETERS,
    "knn": _PYOD_PARAMETERS,
    "lof": _PYOD_PARAMETERS,
    "ensemble": _PYOD_PARAMETERS | {"models", "include_default", "default_params", "method", "n_buckets", "weights"},
}


class SeriesAnomalyParams(_Params):
    """Params of `series_anomaly`: a series model per sensor series and when its scores make a signal.

    Model and parameter names are checked here; parameter values when the detector is built.
    """

    model: str = Field(default="default", description=f"A series model: one of {', '.join(SERIES_MODELS)}")
    model_params: dict[str, Any] = Field(default_factory=dict, description="Keyword parameters of the model")
    threshold: float = Field(default=0.95, gt=0, le=1, description="Score at which a reading is anomalous")
    persistence: int = Field(default=1, ge=1, le=288, description="Anomalous readings in a row that make a signal")
    rearm: int = Field(default=12, ge=1, le=2016, description="Readings in a row below the threshold before the next signal")

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in SERIES_MODELS:
            raise ValueError(f"unknown series model {value!r}; known: {sorted(SERIES_MODELS)}")
        return value

    @field_validator("model_params")
    @classmethod
    def _known_parameters(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        accepted = SERIES_MODELS.get(info.data.get("model", ""))
        if accepted is None:  # the model name failed on its own
            return value
        unknown = sorted(set(value) - accepted)
        if unknown:
            model = info.data["model"]
            raise ValueError(f"model {model!r} takes no parameter(s) {unknown}; it takes {sorted(accepted)}")
        return value


# --------------------------------------------------------------------------- station_anomaly


class StationAnomalyParams(_Params):
    """Params of `station_anomaly`: when the station models' flags make a signal, and what it names.

    Which stations, their channels and models are `stations.yaml`'s; the model's own threshold
    decides whether a row is anomalous (`StationScore.is_anomaly`).
    """

    persistence: int = Field(default=2, ge=1, le=288, description="Anomalous rows in a row that make a signal")
    rearm: int = Field(default=12, ge=1, le=2016, description="Rows in a row below the threshold before the next signal")
    top_channels: int = Field(default=3, ge=1, le=20, description="At most this many contributing channels named")
    min_share: float = Field(default=0.1, ge=0, lt=1, description="A channel is named only with this share of the deviation")


# --------------------------------------------------------------------------- the map

#: Detector type name (`type:` in detectors.yaml) → its params model. The detectors' factories
#: (`riskwatch.detectors.registry`) are keyed by the same names.
DETECTOR_PARAMS: Mapping[str, type[BaseModel]] = {
    "sensor_baseline": SensorBaselineConfig,
    "series_anomaly": SeriesAnomalyParams,
    "sensor_health": SensorHealthConfig,
    "count_surge": CountSurgeConfig,
    "prophet_trend": ProphetTrendConfig,
    "burst": BurstConfig,
    "alarm_limits": NoParams,
    "rules": RuleSet,
    "station_anomaly": StationAnomalyParams,
}


class ParamsError(ValueError):
    """A detector's params do not match its type; the message names the dotted field inside the spec."""

    def __init__(self, index: int, spec: DetectorSpec, error: ValidationError | str) -> None:
        if isinstance(error, str):
            lines = [f"detectors.{index}.type: {error}"]
        else:
            lines = [
                ".".join(["detectors", str(index), "params", *(str(p) for p in item["loc"])])
                + f": {item['msg']}"
                + ("" if isinstance(item.get("input"), dict | list) else f" (got {item.get('input')!r})")
                for item in error.errors()
            ]
        super().__init__(f"detector {spec.name!r} ({spec.type}): " + "; ".join(lines))


def validated_params(index: int, spec: DetectorSpec, taxonomy: TaxonomyConfig | None = None) -> BaseModel:
    """The spec's params as its type's model; the taxonomy lets rules check metric and category names."""
    model = DETECTOR_PARAMS.get(spec.type)
    if model is None:
        raise ParamsError(index, spec, f"type {spec.type!r} is not available; known: {sorted(DETECTOR_PARAMS)}")
    try:
        return model.model_validate(spec.params, context={"taxonomy": taxonomy})
    except ValidationError as exc:
        raise ParamsError(index, spec, exc) from exc


def check_specs(config: DetectorsConfig, taxonomy: TaxonomyConfig | None = None) -> None:
    """Validate every spec's params; raise `ParamsError` on the first bad one."""
    for index, spec in enumerate(config.detectors):
        validated_params(index, spec, taxonomy)


def params_of(config: DetectorsConfig, name: str, taxonomy: TaxonomyConfig | None = None) -> BaseModel:
    """The validated params of the configured detector called `name`."""
    for index, spec in enumerate(config.detectors):
        if spec.name == name:
            return validated_params(index, spec, taxonomy)
    raise KeyError(f"no detector named {name!r}; configured: {[s.name for s in config.detectors]}")


def rule_levels(config: DetectorsConfig, taxonomy: TaxonomyConfig) -> list[HardRule]:
    """Least levels that enabled analyst rules give their warnings, for grading (beside grading.yaml's)."""
    levels: list[HardRule] = []
    for index, spec in enumerate(config.detectors):
        if spec.enabled and spec.type == "rules":
            rules = validated_params(index, spec, taxonomy)
            assert isinstance(rules, RuleSet)
            levels += rules.hard_rules()
    return levels

"""Schema of `stations.yaml`: sites whose sensors are scored jointly (a pump station, a gas
regulator station, a bridge).

A station names its street, its category and its channels — (device id, metric) pairs read by
the station's own sensors — and the station model (`riskwatch.detectors.station.registry`) that
scores one row of those channels per sample period. Types are checked by pydantic; references to
the other files (streets in `regions.yaml`, metrics and categories in `taxonomy.yaml`) by
`station_problems`, which the loader turns into one error naming the file and every bad field.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from riskwatch.config.models import RegionsConfig, TaxonomyConfig

#: The file name, and the model name used when a station names none.
STATIONS_FILE = "stations.yaml"
DEFAULT_STATION_MODEL = "station"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationChannel(_Config):
    """One channel of a station: a metric read by one of its devices."""

    device: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Device id as the sensor sends it")]
    metric: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", description="A sensor metric of taxonomy.yaml")]
    label: str | None = Field(default=None, description="Name in warnings (Chinese); default: the metric's name")

    @property
    def key(self) -> str:
        """The channel's name for the station model: `device/metric`."""
        return f"{self.device}/{self.metric}"


class Station(_Config):
    """One site: where it is, what it serves, its channels and the model that scores them jointly."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    name: Annotated[str, Field(min_length=1, description="Chinese name, e.g. 花园路加压泵站")]
    street: Annotated[str, Field(pattern=r"^\d{9}$", description="Street code of regions.yaml; its district follows")]
    category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", description="Taxonomy category its warnings carry")]
    channels: list[StationChannel] = Field(min_length=2, description="At least two: one channel is a series, not a station")
    model: Annotated[str, Field(min_length=1)] = Field(
        default=DEFAULT_STATION_MODEL, description="A registered station detector (riskwatch.detectors.station.registry)"
    )
    model_params: dict[str, Any] = Field(default_factory=dict, description="Passed to the station model")
    sample_period: timedelta = Field(
        default=timedelta(minutes=5), description="One row per period: each channel's latest reading in it"
    )

    @model_validator(mode="after")
    def _channels_and_period(self) -> Station:
        keys = [c.key for c in self.channels]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"station {self.id}: each (device, metric) channel may appear once, repeated: {repeated}")
        if not timedelta(seconds=10) <= self.sample_period <= timedelta(hours=1):
            raise ValueError(f"station {self.id}: sample_period must be between 10 s and 1 h, got {self.sample_period}")
        return self

    @property
    def district(self) -> str:
        """District code: a street code starts with its district's (regions.yaml checks this)."""
        return self.street[:6]

    @property
    def channel_keys(self) -> tuple[str, ...]:
        """The channels' names for the station model, in config order."""
        return tuple(c.key for c in self.channels)


class StationsConfig(_Config):
    """Every station of the city; a city without stations has an empty list (or no file)."""

    stations: list[Station] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> StationsConfig:
        ids = [s.id for s in self.stations]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"station ids must be unique, repeated: {repeated}")
        owner: dict[str, str] = {}
        for station in self.stations:
            for key in station.channel_keys:
                if key in owner:
                    raise ValueError(f"channel {key} belongs to both station {owner[key]} and station {station.id}")
                owner[key] = station.id
        return self

    def get(self, station_id: str) -> Station | None:
        """The station with that id, or None."""
        return next((s for s in self.stations if s.id == station_id), None)


def station_problems(stations: StationsConfig, regions: RegionsConfig, taxonomy: TaxonomyConfig) -> list[tuple[str, str]]:
    """(dotted field, what was expected) for every reference to a street, metric or category that does not exist."""
    streets = {s.code for d in regions.districts for s in d.streets}
    metrics = {m.metric for m in taxonomy.sensor_metrics}
    categories = {c.code for c in taxonomy.categories}
    problems: list[tuple[str, str]] = []
    for i, station in enumerate(stations.stations):
        where = f"stations.{i}"
        if station.street not in streets:
            problems.append((f"{where}.street", f"unknown street code {station.street!r}; expected a street of regions.yaml"))
        if station.category not in categories:
            problems.append(
                (f"{where}.category", f"unknown category {station.category!r}; taxonomy.yaml has {sorted(categories)}")
            )
        for j, channel in enumerate(station.channels):
            if channel.metric not in metrics:
                problems.append(
                    (f"{where}.channels.{j}.metric", f"unknown metric {channel.metric!r}; taxonomy.yaml has {sorted(metrics)}")
                )
    return problems

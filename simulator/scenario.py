"""Scenario files for `riskwatch simulate`: background rates, sensors and injected incidents.

A scenario is one YAML file validated by the pydantic models below. Types are checked by
pydantic; references to the city (street codes, categories, metrics) and time windows are
checked against the city config by `check_scenario`, so every failure names the file and
the field, as `config/loader.py` does for config files.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from riskwatch.config.loader import CityConfig, ConfigError, load_city_config, load_model
from riskwatch.contracts import Level

IncidentKind = Literal["water_main_burst", "gas_leak", "flooding", "sensor_spike", "level_shift", "slow_drift",
                       "stuck_sensor", "seasonal_break", "hotline_surge", "police_burst", "multi_source",
                       "station_fault"]
"""Incident kinds the generator knows; each is one function in `generate.py`."""

StreetCode = Annotated[str, Field(pattern=r"^\d{9}$")]
Fraction = Annotated[float, Field(ge=0.0, le=0.5)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricPlan(_Model):
    """Devices of one sensor metric: how many per street and on which streets."""

    per_street: Annotated[int, Field(ge=1, le=20)] = 1
    streets: Literal["all"] | list[StreetCode] = "all"


def _default_sensors() -> dict[str, MetricPlan]:
    return {
        "water_pressure": MetricPlan(per_street=2, streets="all"),
        "gas_concentration": MetricPlan(per_street=1, streets=["410102001", "410103002", "410104002", "410105002"]),
        "ponding_depth": MetricPlan(per_street=1, streets=["410102002", "410103001", "410104003", "410105002"]),
        "pm25": MetricPlan(per_street=1, streets=["410102001", "410103001", "410104001", "410105001"]),
    }


class Background(_Model):
    """Everyday traffic with no incident in it."""

    hotline_per_hour: Annotated[float, Field(ge=0, le=10000)] = Field(
        default=120.0, description="12345 work orders per hour city-wide at the daily peak"
    )
    police_per_hour: Annotated[float, Field(ge=0, le=10000)] = Field(
        default=30.0, description="110 incidents per hour city-wide at the daily peak"
    )
    weekend_factor: Annotated[float, Field(ge=0, le=2)] = Field(
        default=0.8, description="Hotline volume on Saturday and Sunday relative to weekdays"
    )
    sensor_interval: timedelta = Field(default=timedelta(minutes=5), description="Time between readings of a device")
    sensors: dict[str, MetricPlan] = Field(default_factory=_default_sensors, description="Metric → devices")


class GatewayOutage(_Model):
    """An IoT gateway that buffers its street's readings and flushes them late."""

    street: StreetCode
    start: AwareDatetime
    duration: timedelta
    metrics: list[str] = Field(default_factory=list, description="Empty means every metric in the street")


class Realism(_Model):
    """Faults of real upstream systems; all off unless a scenario turns them on."""

    malformed_fraction: Fraction = Field(default=0.0, description="Extra corrupted sends, per record")
    duplicate_fraction: Fraction = Field(default=0.0, description="Exact re-sends, per record")
    gateway_outages: list[GatewayOutage] = Field(default_factory=list)


class Incident(_Model):
    """One injected incident and its ground-truth label."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    kind: IncidentKind
    street: StreetCode
    start: AwareDatetime
    duration: timedelta
    intensity: Annotated[float, Field(gt=0, le=3)] = 1.0
    expected_level: Level | None  # None: a sensor-health case for maintenance, not a warning
    expected_categories: list[str] = Field(min_length=1)
    station: str | None = Field(default=None, description="Station id (stations.yaml) of a station_fault")

    @property
    def end(self) -> datetime:
        return self.start + self.duration


class Scenario(_Model):
    """A simulated stretch of city life with incidents injected into it."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    description: str = ""
    start: AwareDatetime
    duration: timedelta
    seed: int = 0
    background: Background = Background()
    realism: Realism = Realism()
    stations: list[str] = Field(
        default_factory=list, description="Station ids of stations.yaml whose channels are simulated (none by default)"
    )
    incidents: list[Incident] = Field(default_factory=list)

    @property
    def end(self) -> datetime:
        return self.start + self.duration


def scenario_problems(scenario: Scenario, city: CityConfig) -> list[tuple[str, str]]:
    """Cross-checks pydantic cannot do alone: (field path, message) for every problem."""
    problems: list[tuple[str, str]] = []
    streets = {s.code for d in city.regions.districts for s in d.streets}
    categories = {c.code for c in city.taxonomy.categories}
    metrics = {m.metric for m in city.taxonomy.sensor_metrics}
    if scenario.duration <= timedelta(0) or scenario.duration > timedelta(days=31):
        problems.append(("duration", "must be positive and at most 31 days"))
    if scenario.background.sensor_interval < timedelta(seconds=10):
        problems.append(("background.sensor_interval", "must be at least 10 seconds"))
    for metric, plan in scenario.background.sensors.items():
        if metric not in metrics:
            problems.append((f"background.sensors.{metric}", f"unknown metric; taxonomy.yaml has {sorted(metrics)}"))
        if plan.streets != "all":
            for i, code in enumerate(plan.streets):
                if code not in streets:
                    problems.append((f"background.sensors.{metric}.streets.{i}", f"unknown street code {code!r}"))
    for i, station_id in enumerate(scenario.stations):
        if city.stations.get(station_id) is None:
            known = [s.id for s in city.stations.stations]
            problems.append((f"stations.{i}", f"unknown station {station_id!r}; stations.yaml has {known}"))
    seen: set[str] = set()
    for i, inc in enumerate(scenario.incidents):
        where = f"incidents.{i}"
        if inc.id in seen:
            problems.append((f"{where}.id", f"duplicate incident id {inc.id!r}"))
        seen.add(inc.id)
        if inc.street not in streets:
            problems.append((f"{where}.street", f"unknown street code {inc.street!r} (not in regions.yaml)"))
        if not scenario.start <= inc.start < scenario.end:
            problems.append((f"{where}.start", f"{inc.start.isoformat()} is outside the scenario window"))
        if inc.duration <= timedelta(0):
            problems.append((f"{where}.duration", "must be positive"))
        for j, cat in enumerate(inc.expected_categories):
            if cat not in categories:
                problems.append((f"{where}.expected_categories.{j}", f"unknown category {cat!r}"))
        problems += _station_problems(scenario, inc, where, city)
    for i, outage in enumerate(scenario.realism.gateway_outages):
        where = f"realism.gateway_outages.{i}"
        if outage.street not in streets:
            problems.append((f"{where}.street", f"unknown street code {outage.street!r}"))
        if not scenario.start <= outage.start < scenario.end:
            problems.append((f"{where}.start", f"{outage.start.isoformat()} is outside the scenario window"))
        if outage.duration <= timedelta(0):
            problems.append((f"{where}.duration", "must be positive"))
        for j, metric in enumerate(outage.metrics):
            if metric not in metrics:
                problems.append((f"{where}.metrics.{j}", f"unknown metric {metric!r}"))
    return problems


def _station_problems(scenario: Scenario, inc: Incident, where: str, city: CityConfig) -> list[tuple[str, str]]:
    """A station_fault names a station the scenario simulates, on the incident's street; others name none."""
    if inc.kind != "station_fault":
        return [] if inc.station is None else [(f"{where}.station", "only a station_fault names a station")]
    if inc.station is None or inc.station not in scenario.stations:
        return [(f"{where}.station", f"a station_fault needs one of the scenario's stations {scenario.stations}, got {inc.station!r}")]
    station = city.stations.get(inc.station)
    if station is not None and station.street != inc.street:
        return [(f"{where}.street", f"station {station.id} is in street {station.street}, not {inc.street}")]
    return []


def check_scenario(scenario: Scenario, city: CityConfig, path: Path | str = "<scenario>") -> None:
    """Raise `ConfigError` naming the file and every bad field if the scenario does not fit the city."""
    problems = scenario_problems(scenario, city)
    if problems:
        name = Path(path).name
        lines = [f"{path}: {len(problems)} invalid field(s)"]
        lines += [f"  {name}: {field}: {message}" for field, message in problems]
        raise ConfigError("\n".join(lines))


def scenario_dir() -> Path:
    """Directory of the shipped scenario files."""
    return Path(str(resources.files("riskwatch.simulator") / "scenarios"))


def builtin_scenarios() -> list[str]:
    """Names of the shipped scenarios, e.g. `water_main_burst`."""
    return sorted(p.stem for p in scenario_dir().glob("*.yaml"))


def resolve_scenario_path(name_or_path: str | Path) -> Path:
    """A built-in name resolves to its shipped file; anything else is a path."""
    text = str(name_or_path)
    if text in builtin_scenarios():
        return scenario_dir() / f"{text}.yaml"
    path = Path(text)
    if not path.exists() and path.suffix == "" and "/" not in text:
        raise ConfigError(f"{text}: no such scenario; built-in scenarios are {builtin_scenarios()}")
    return path


def load_scenario(name_or_path: str | Path, city: CityConfig | None = None) -> Scenario:
    """Load a built-in scenario by name or a scenario file by path, checked against the city."""
    path = resolve_scenario_path(name_or_path)
    scenario = load_model(path, Scenario)
    check_scenario(scenario, city or load_city_config(), path)
    return scenario

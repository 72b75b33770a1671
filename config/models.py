"""Pydantic schemas of the YAML files under `config/`.

Each top-level model is one file. Cross-references (a street's district, a police type's
category) are checked in validators so that a bad file fails at load, not mid-stream.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from riskwatch.contracts import Level, Source


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LonLat = tuple[Annotated[float, Field(ge=-180, le=180)], Annotated[float, Field(ge=-90, le=90)]]

# --------------------------------------------------------------------------- regions.yaml


class Grid(_Config):
    """A grid cell: 6 division + 3 street + 3 community + 3 cell digits."""

    code: Annotated[str, Field(pattern=r"^\d{15}$")]
    name: str
    centroid: LonLat
    population: Annotated[int, Field(ge=0)] = 0


class Street(_Config):
    """A street (街道) or town (镇): 9-digit code."""

    code: Annotated[str, Field(pattern=r"^\d{9}$")]
    name: str
    population: Annotated[int, Field(ge=0)]
    centroid: LonLat
    grids: list[Grid] = Field(default_factory=list)

    @model_validator(mode="after")
    def _grids_belong(self) -> Street:
        for grid in self.grids:
            if not grid.code.startswith(self.code):
                raise ValueError(f"grid {grid.code} does not start with its street code {self.code}")
        return self


class District(_Config):
    """A county-level division: GB/T 2260 six-digit code."""

    code: Annotated[str, Field(pattern=r"^\d{6}$")]
    name: str
    population: Annotated[int, Field(ge=0)]
    centroid: LonLat
    neighbours: list[str] = Field(default_factory=list)
    streets: list[Street] = Field(min_length=1)

    @model_validator(mode="after")
    def _streets_belong(self) -> District:
        for street in self.streets:
            if not street.code.startswith(self.code):
                raise ValueError(f"street {street.code} does not start with its district code {self.code}")
        return self


class RegionsConfig(_Config):
    """The city and its districts → streets → grid cells."""

    city_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    city_name: str
    districts: list[District] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_and_linked(self) -> RegionsConfig:
        codes = [d.code for d in self.districts]
        codes += [s.code for d in self.districts for s in d.streets]
        codes += [g.code for d in self.districts for s in d.streets for g in s.grids]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"region codes must be unique, repeated: {dupes}")
        district_codes = {d.code for d in self.districts}
        for district in self.districts:
            unknown = set(district.neighbours) - district_codes
            if unknown:
                raise ValueError(f"district {district.code} names unknown neighbours {sorted(unknown)}")
        return self


# --------------------------------------------------------------------------- taxonomy.yaml


class Category(_Config):
    """An event category; hotline text is classified by its keywords."""

    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    name_en: str
    keywords: list[str] = Field(default_factory=list)


class SensorMetric(_Config):
    """A measured quantity, its unit, physical range and alarm limits."""

    metric: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str
    unit: str
    category: str
    valid_min: float
    valid_max: float
    alarm_low: float | None = None
    alarm_high: float | None = None
    critical_low: float | None = Field(default=None, description="Hard rule: level I/II territory")
    critical_high: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> SensorMetric:
        if self.valid_min >= self.valid_max:
            raise ValueError(f"metric {self.metric}: valid_min must be below valid_max")
        return self


class TaxonomyConfig(_Config):
    """Categories, how 110 type codes map onto them, and sensor metrics."""

    default_category: str
    categories: list[Category] = Field(min_length=1)
    police_types: dict[str, str] = Field(description="110 type code → category code")
    sensor_metrics: list[SensorMetric] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_exist(self) -> TaxonomyConfig:
        known = {c.code for c in self.categories}
        if self.default_category not in known:
            raise ValueError(f"default_category {self.default_category!r} is not a category code")
        for type_code, category in self.police_types.items():
            if category not in known:
                raise ValueError(f"police type {type_code} maps to unknown category {category!r}")
        for metric in self.sensor_metrics:
            if metric.category not in known:
                raise ValueError(f"sensor metric {metric.metric} names unknown category {metric.category!r}")
        return self

    def category(self, code: str) -> Category:
        for category in self.categories:
            if category.code == code:
                return category
        raise KeyError(code)

    def metric(self, name: str) -> SensorMetric | None:
        for metric in self.sensor_metrics:
            if metric.metric == name:
                return metric
        return None


# --------------------------------------------------------------------------- grading.yaml


class ScoreBand(_Config):
    """A level given when the fused score reaches `min_score`."""

    level: Level
    min_score: Annotated[float, Field(ge=0, le=1)]


class HardRule(_Config):
    """A detector hard rule that forces at least a given level."""

    rule: str
    level: Level


class GradingConfig(_Config):
    """How signals become warnings and which level they get."""

    correlation_window: timedelta = Field(description="Signals this close in event time join one warning")
    min_score: Annotated[float, Field(ge=0, le=1)] = Field(description="Below this fused score, no warning")
    single_source_cap: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Highest score one source alone can give: higher levels need corroboration"
    )
    corroboration_bonus: Annotated[float, Field(ge=0, le=1)] = Field(
        description="Added to the fused score for each independent source beyond the first"
    )
    population_bonus: dict[int, float] = Field(
        default_factory=dict, description="Affected population threshold → score bonus"
    )
    bands: list[ScoreBand] = Field(min_length=1)
    hard_rules: list[HardRule] = Field(default_factory=list)
    category_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Categories that describe one kind of incident, fused into one warning (group → categories)",
    )
    neighbour_radius_km: Annotated[float, Field(ge=0)] = Field(
        default=0.0,
        description="Streets of one district whose centroids are this close are neighbours: "
        "a signal in one joins an open incident of its group in the other (0 = same street only)",
    )
    related_groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Cause group → groups it brings about; their signals corroborate an open cause "
        "incident nearby instead of raising their own warning, and a higher cause warning inhibits theirs",
    )
    incident_idle_close: timedelta = Field(
        default=timedelta(hours=6),
        description="An incident with no signal for this long is forgotten (no Cancel) to bound memory",
    )
    absorb_coarser_signals: bool = Field(
        default=False,
        description="A district-level signal joins the strongest published incident of its group (or a cause "
        "group) in one of the district's streets instead of raising a district warning, and a street warning "
        "published later cancels the district warning of its group it now covers",
    )

    @model_validator(mode="after")
    def _bands_cover(self) -> GradingConfig:
        levels = [b.level for b in self.bands]
        if len(set(levels)) != len(levels):
            raise ValueError("each level may have only one score band")
        scores = [b.min_score for b in sorted(self.bands, key=lambda b: b.level.rank, reverse=True)]
        if scores != sorted(scores, reverse=True):
            raise ValueError("bands must need a higher score for a higher level")
        grouped = [c for cats in self.category_groups.values() for c in cats]
        if len(grouped) != len(set(grouped)):
            raise ValueError("a category may belong to only one category group")
        return self

    @model_validator(mode="after")
    def _windows_ordered(self) -> GradingConfig:
        if self.correlation_window <= timedelta(0):
            raise ValueError(f"correlation_window must be positive, got {self.correlation_window}")
        if self.incident_idle_close < self.correlation_window:
            raise ValueError(
                f"incident_idle_close ({self.incident_idle_close}) must be at least correlation_window "
                f"({self.correlation_window}): an incident may not be forgotten while signals can still join it"
            )
        return self

    @model_validator(mode="after")
    def _related_groups_known(self) -> GradingConfig:
        known = sorted(self.category_groups)
        for cause, effects in self.related_groups.items():
            for name in [cause, *effects]:
                if name not in self.category_groups:
                    raise ValueError(f"related_groups.{cause}: unknown group {name!r}; expected one of {known}")
            if cause in effects:
                raise ValueError(f"related_groups.{cause}: a group cannot be related to itself")
        if cycle := _find_cycle(self.related_groups):
            raise ValueError(f"related_groups must not form a cycle: {' → '.join(cycle)}")
        return self

    def causes_of(self, group: str) -> list[str]:
        """Groups whose incidents a signal of `group` corroborates, in config order."""
        return [cause for cause, effects in self.related_groups.items() if group in effects]


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A path that returns to its start in the directed graph `edges`, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in edges.get(node, []):
            if found := visit(nxt, [*path, node]):
                return found
        done.add(node)
        return None

    for start in edges:
        if found := visit(start, []):
            return found
    return None


# --------------------------------------------------------------------------- routing.yaml


class Department(_Config):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    name: str


class RouteRule(_Config):
    """Region prefix × categories → department; the longest matching prefix wins."""

    region_prefix: Annotated[str, Field(pattern=r"^\d{0,15}$")] = ""
    categories: list[str] = Field(default_factory=list, description="Empty means every category")
    department: str


class Deadline(_Config):
    acknowledge: timedelta
    resolve: timedelta


class PublicationPolicy(_Config):
    """Which levels reach the public feed without a commander's approval."""

    auto_public_levels: list[Level] = Field(
        default_factory=lambda: [Level.III, Level.IV],
        description="Published at once; every other level waits for a commander to approve it",
    )

    @model_validator(mode="after")
    def _unique_levels(self) -> PublicationPolicy:
        if len(set(self.auto_public_levels)) != len(self.auto_public_levels):
            raise ValueError("auto_public_levels lists a level more than once")
        return self


class RoutingConfig(_Config):
    """Who handles a warning, how fast, whom to escalate to, and what the public may see."""

    departments: list[Department] = Field(min_length=1)
    routes: list[RouteRule] = Field(min_length=1)
    fallback_department: str
    escalation_chain: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1, description="grid → street → district → city"
    )
    deadlines: dict[Level, Deadline]
    publication: PublicationPolicy = PublicationPolicy()

    @model_validator(mode="after")
    def _departments_exist(self) -> RoutingConfig:
        known = {d.code for d in self.departments}
        for name in [self.fallback_department, *(r.department for r in self.routes)]:
            if name not in known:
                raise ValueError(f"department {name!r} is not declared under departments")
        missing = set(Level) - set(self.deadlines)
        if missing:
            raise ValueError(f"deadlines missing for levels {sorted(m.value for m in missing)}")
        for level, deadline in self.deadlines.items():
            if deadline.acknowledge <= timedelta(0) or deadline.resolve <= timedelta(0):
                raise ValueError(f"deadlines.{level.value}: acknowledge and resolve must be positive durations")
        if len(set(self.escalation_chain)) != len(self.escalation_chain):
            raise ValueError("escalation_chain lists a tier more than once")
        return self

    def deadline_for(self, level: Level) -> Deadline:
        """Acknowledge and resolve deadlines of a level."""
        return self.deadlines[Level(level)]

    def next_tier(self, tier: str) -> str:
        """The tier after `tier` on the escalation chain; the last tier (or an unknown one) stays last."""
        chain = self.escalation_chain
        if tier not in chain:
            return chain[-1]
        return chain[min(chain.index(tier) + 1, len(chain) - 1)]

    def department_codes(self) -> set[str]:
        return {d.code for d in self.departments}

    def department_for(self, region_code: str, category: str) -> str:
        best: RouteRule | None = None
        for rule in self.routes:
            if region_code.startswith(rule.region_prefix) and (not rule.categories or category in rule.categories):
                if best is None or len(rule.region_prefix) > len(best.region_prefix):
                    best = rule
        return best.department if best else self.fallback_department


# --------------------------------------------------------------------------- detectors.yaml


class StreamTimeConfig(_Config):
    """Event-time handling: how late an event may arrive and still be placed."""

    allowed_lateness: timedelta = Field(description="Events older than the watermark minus this are dead-lettered")
    dedup_horizon: timedelta = Field(description="How long an event id is remembered to drop re-sends")


class Watch(_Config):
    """Which events a detector looks at; an empty list means no restriction."""

    sources: list[Source] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    regions: list[Annotated[str, Field(pattern=r"^\d{2,15}$")]] = Field(
        default_factory=list, description="Region code prefixes"
    )


#: Detector type names; `riskwatch.config.detector_params.DETECTOR_PARAMS` has one params model for each.
DETECTOR_TYPES = (
    "sensor_baseline",
    "series_anomaly",
    "sensor_health",
    "count_surge",
    "prophet_trend",
    "burst",
    "alarm_limits",
    "rules",
    "station_anomaly",
)


class DetectorSpec(_Config):
    """One configured detector: its type, what it watches, and its parameters.

    `params` is checked against the type's own params model (`riskwatch.config.detector_params`)
    when the config is loaded.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", description="Names the signals it emits")]
    type: Annotated[str, Field(description=f"One of {', '.join(DETECTOR_TYPES)}")]
    enabled: bool = True
    watch: Watch = Watch()
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_type(self) -> DetectorSpec:
        if self.type not in DETECTOR_TYPES:
            raise ValueError(f"type {self.type!r} is not one of {list(DETECTOR_TYPES)}")
        return self


class DetectorsConfig(_Config):
    """Event-time handling and the detectors that run, in order."""

    stream_time: StreamTimeConfig
    detectors: list[DetectorSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> DetectorsConfig:
        names = [d.name for d in self.detectors]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"detector names must be unique, repeated: {repeated}")
        return self

"""Load and validate the YAML config files, failing with the file, the field and what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from riskwatch.config.detector_params import ParamsError, check_specs
from riskwatch.config.models import (
    DetectorsConfig,
    GradingConfig,
    RegionsConfig,
    RoutingConfig,
    TaxonomyConfig,
)
from riskwatch.config.stations import STATIONS_FILE, StationsConfig, station_problems

DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent

ModelT = TypeVar("ModelT", bound=BaseModel)

CONFIG_FILES: dict[str, type[BaseModel]] = {
    "regions.yaml": RegionsConfig,
    "taxonomy.yaml": TaxonomyConfig,
    "grading.yaml": GradingConfig,
    "routing.yaml": RoutingConfig,
    "detectors.yaml": DetectorsConfig,
    STATIONS_FILE: StationsConfig,
}


class ConfigError(ValueError):
    """A config file is missing, is not YAML, or does not match its schema."""


def describe_validation_error(error: ValidationError, where: str, prefix: str = "") -> str:
    """One line per invalid field: `where: dotted.field: what was expected (got value)`.

    `prefix` is prepended to each field path, for models validated inside a larger file.
    """
    label = Path(where).name or where
    lines = [f"{where}: {error.error_count()} invalid field(s)"]
    for item in error.errors():
        field = ".".join([*([prefix] if prefix else []), *(str(part) for part in item["loc"])]) or "(top level)"
        got = item.get("input")
        got_text = "" if isinstance(got, dict | list) else f" (got {got!r})"
        lines.append(f"  {label}: {field}: {item['msg']}{got_text}")
    return "\n".join(lines)


def load_model(path: Path, model: type[ModelT]) -> ModelT:
    """Read one YAML file into `model`; every failure names the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(path))) from exc


def model_for_file(path: Path) -> type[BaseModel]:
    """The schema that a config file of this name must match."""
    try:
        return CONFIG_FILES[path.name]
    except KeyError as exc:
        raise ConfigError(f"{path}: unknown config file; expected one of {sorted(CONFIG_FILES)}") from exc


@dataclass(frozen=True)
class CityConfig:
    """Every config file of one city, validated together."""

    regions: RegionsConfig
    taxonomy: TaxonomyConfig
    grading: GradingConfig
    routing: RoutingConfig
    detectors: DetectorsConfig
    directory: Path
    stations: StationsConfig = field(default_factory=StationsConfig)


def _check_across_files(config: CityConfig) -> None:
    categories = {c.code for c in config.taxonomy.categories}
    for group, members in config.grading.category_groups.items():
        unknown = set(members) - categories
        if unknown:
            raise ConfigError(f"{config.directory / 'grading.yaml'}: category_groups.{group}: unknown categories {sorted(unknown)}")
    for i, rule in enumerate(config.routing.routes):
        unknown = set(rule.categories) - categories
        if unknown:
            raise ConfigError(f"{config.directory / 'routing.yaml'}: routes.{i}.categories: unknown categories {sorted(unknown)}")
    problems = station_problems(config.stations, config.regions, config.taxonomy)
    if problems:
        path = config.directory / STATIONS_FILE
        lines = [f"{path}: {len(problems)} invalid field(s)", *(f"  {STATIONS_FILE}: {f}: {m}" for f, m in problems)]
        raise ConfigError("\n".join(lines))


def check_detectors_file(path: Path, detectors: DetectorsConfig, taxonomy: TaxonomyConfig | None = None) -> None:
    """Check every detector's params against its type's params model.

    Without a taxonomy, the one beside the file (or the shipped one) names the known metrics and categories.
    """
    if taxonomy is None:
        beside = path.parent / "taxonomy.yaml"
        taxonomy = load_model(beside if beside.exists() else DEFAULT_CONFIG_DIR / "taxonomy.yaml", TaxonomyConfig)
    try:
        check_specs(detectors, taxonomy)
    except ParamsError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_stations(directory: Path) -> StationsConfig:
    """`stations.yaml` of `directory`; a city without the file has no stations."""
    path = directory / STATIONS_FILE
    return load_model(path, StationsConfig) if path.exists() else StationsConfig()


def load_city_config(directory: Path | None = None) -> CityConfig:
    """Load every config file from `directory` (default: the shipped sample city).

    `stations.yaml` is optional (no file: no stations); every other file is required.
    """
    directory = Path(directory) if directory else DEFAULT_CONFIG_DIR
    config = CityConfig(
        regions=load_model(directory / "regions.yaml", RegionsConfig),
        taxonomy=load_model(directory / "taxonomy.yaml", TaxonomyConfig),
        grading=load_model(directory / "grading.yaml", GradingConfig),
        routing=load_model(directory / "routing.yaml", RoutingConfig),
        detectors=load_model(directory / "detectors.yaml", DetectorsConfig),
        directory=directory,
        stations=load_stations(directory),
    )
    _check_across_files(config)
    check_detectors_file(directory / "detectors.yaml", config.detectors, config.taxonomy)
    return config

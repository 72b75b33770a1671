"""Display names for a report: regions and departments of the city config."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RegionsConfig, RoutingConfig

__all__ = ["Directory", "load_directory"]


class Directory(BaseModel):
    """Region code → name and department code → name; unknown codes show as themselves."""

    model_config = ConfigDict(frozen=True)

    regions: dict[str, str] = Field(default_factory=dict)
    departments: dict[str, str] = Field(default_factory=dict)

    def region(self, code: str) -> str:
        return self.regions.get(code, code)

    def department(self, code: str | None) -> str:
        if code is None:
            return "未指派 (unassigned)"
        return self.departments.get(code, code)


def load_directory(config_dir: Path | None = None) -> Directory:
    """Names from `regions.yaml` and `routing.yaml` in `config_dir` (default: the shipped sample city)."""
    directory = Path(config_dir) if config_dir else DEFAULT_CONFIG_DIR
    regions = load_model(directory / "regions.yaml", RegionsConfig)
    routing = load_model(directory / "routing.yaml", RoutingConfig)
    names = {d.code: d.name for d in regions.districts}
    names |= {s.code: s.name for d in regions.districts for s in d.streets}
    return Directory(regions=names, departments={d.code: d.name for d in routing.departments})

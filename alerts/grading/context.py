"""What the grading stages share: the city's grading config and regions, and the incident book.

The stages themselves hold no state; a `Grader` builds one context and hands it to each stage
with every batch, so a snapshot of the book is a snapshot of the whole grader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from riskwatch.alerts.grading.fusion import Grade, grade_incident
from riskwatch.alerts.grading.incidents import Incident, IncidentBook
from riskwatch.alerts.grading.messages import WarningWriter
from riskwatch.alerts.grading.neighbours import Neighbourhood
from riskwatch.config.loader import CityConfig
from riskwatch.config.models import GradingConfig, HardRule
from riskwatch.config.regions import RegionIndex


@dataclass
class GradingContext:
    """Config, region lookups, message writer and incidents, as every stage sees them."""

    grading: GradingConfig
    regions: RegionIndex
    hard_rules: list[HardRule]
    neighbourhood: Neighbourhood
    writer: WarningWriter
    incidents: IncidentBook = field(default_factory=IncidentBook)
    _group_of: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._group_of = {c: g for g, members in self.grading.category_groups.items() for c in members}

    @classmethod
    def build(cls, config: CityConfig, regions: RegionIndex, hard_rules: list[HardRule]) -> GradingContext:
        """A context with an empty book; `hard_rules` are grading.yaml's plus the detectors' own."""
        return cls(
            grading=config.grading,
            regions=regions,
            hard_rules=hard_rules,
            neighbourhood=Neighbourhood(regions, config.grading.neighbour_radius_km),
            writer=WarningWriter(config, regions, hard_rules),
        )

    def group_of(self, category: str) -> str:
        """A category's group (grading.yaml category_groups); an ungrouped category is its own."""
        return self._group_of.get(category, category)

    def street_of(self, region_code: str) -> str:
        """The street a region lies in; districts and unknown codes stay as they are."""
        return self.regions.at_level(region_code, "street") if region_code in self.regions else region_code

    def is_street(self, code: str) -> bool:
        region = self.regions.get(code)
        return region is not None and region.level == "street"

    def is_coarser(self, code: str) -> bool:
        """Whether hierarchical fusion applies to a signal placed at `code`: a known district."""
        region = self.regions.get(code)
        return self.grading.absorb_coarser_signals and region is not None and region.level == "district"

    def name(self, code: str) -> str:
        """A region's full Chinese name, or the code itself when it is unknown."""
        return self.regions.full_name(code) if code in self.regions else code

    def grade(self, incident: Incident) -> Grade:
        """The incident's fused score and level now (it must have an own-group signal)."""
        region = self.regions.get(incident.street)
        return grade_incident(incident, self.grading, self.hard_rules, region.population if region else 0)

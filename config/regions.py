"""Fast lookups over the region tree: by code, by parent, and nearest grid to a point."""

from __future__ import annotations

import math
from dataclasses import dataclass

from riskwatch.config.models import RegionsConfig


@dataclass(frozen=True)
class RegionInfo:
    """One region of any level, with its ancestry."""

    code: str
    name: str
    level: str  # "district" | "street" | "grid"
    district_code: str
    street_code: str | None
    population: int
    centroid: tuple[float, float]


class RegionIndex:
    """Every district, street and grid of a city, indexed by code."""

    def __init__(self, regions: RegionsConfig) -> None:
        self.city_code = regions.city_code
        self.city_name = regions.city_name
        self._by_code: dict[str, RegionInfo] = {}
        self.neighbours: dict[str, tuple[str, ...]] = {}
        for d in regions.districts:
            self._by_code[d.code] = RegionInfo(d.code, d.name, "district", d.code, None, d.population, d.centroid)
            self.neighbours[d.code] = tuple(d.neighbours)
            for s in d.streets:
                self._by_code[s.code] = RegionInfo(s.code, s.name, "street", d.code, s.code, s.population, s.centroid)
                for g in s.grids:
                    self._by_code[g.code] = RegionInfo(g.code, g.name, "grid", d.code, s.code, g.population, g.centroid)
        self._grids = [r for r in self._by_code.values() if r.level == "grid"]
        self._streets = [r for r in self._by_code.values() if r.level == "street"]

    def get(self, code: str) -> RegionInfo | None:
        return self._by_code.get(code)

    def __contains__(self, code: str) -> bool:
        return code in self._by_code

    @property
    def grids(self) -> list[RegionInfo]:
        return list(self._grids)

    @property
    def streets(self) -> list[RegionInfo]:
        return list(self._streets)

    @property
    def districts(self) -> list[RegionInfo]:
        return [r for r in self._by_code.values() if r.level == "district"]

    def full_name(self, code: str) -> str:
        """`城市 区 街道 网格` names down to this region, for titles."""
        region = self._by_code[code]
        names = [self._by_code[region.district_code].name]
        if region.street_code and region.level != "district":
            names.append(self._by_code[region.street_code].name)
        if region.level == "grid":
            names.append(region.name)
        return "".join(names)

    def nearest_grid(self, lon: float, lat: float, max_km: float = 5.0) -> RegionInfo | None:
        """The grid whose centroid is closest to the point, if within `max_km`."""
        best, best_km = None, max_km
        for grid in self._grids:
            km = haversine_km(lon, lat, *grid.centroid)
            if km <= best_km:
                best, best_km = grid, km
        return best

    def at_level(self, code: str, level: str) -> str:
        """The code of the region at `level` (grid/street/district) that contains `code`."""
        region = self._by_code[code]
        if level == "district" or region.level == "district":
            return region.district_code
        if level == "street" or region.level == "street":
            return region.street_code or region.district_code
        return region.code


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))

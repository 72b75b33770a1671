"""Which streets are close enough that one incident may show up in both.

Two streets are neighbours when they lie in the same district and their centroids (from
regions.yaml) are within `neighbour_radius_km` of each other. Centroid distance rather than
shared polygon edges keeps the rule a pure function of regions.yaml and one number an analyst
can tune in grading.yaml; staying inside the district keeps a warning with one district's
departments and escalation chain.
"""

from __future__ import annotations

from riskwatch.config.regions import RegionIndex, haversine_km


class Neighbourhood:
    """Each street's neighbours, nearest first, computed once from the region tree."""

    def __init__(self, regions: RegionIndex, radius_km: float) -> None:
        self.radius_km = radius_km
        self._near: dict[str, tuple[tuple[str, float], ...]] = {}
        self._in_district: dict[str, list[str]] = {}
        for street in regions.streets:
            self._in_district.setdefault(street.district_code, []).append(street.code)
            found = [
                (other.code, round(haversine_km(*street.centroid, *other.centroid), 2))
                for other in regions.streets
                if other.code != street.code and other.district_code == street.district_code
            ]
            self._near[street.code] = tuple(sorted(((c, km) for c, km in found if km <= radius_km), key=lambda p: (p[1], p[0])))

    def of(self, street: str) -> tuple[tuple[str, float], ...]:
        """(street code, km) of every neighbour of `street`, nearest first; () for unknown codes."""
        return self._near.get(street, ())

    def streets_in(self, district: str) -> tuple[str, ...]:
        """Codes of every street of `district`, sorted; () for unknown codes."""
        return tuple(sorted(self._in_district.get(district, ())))

    def reach(self, street: str) -> list[tuple[str, float]]:
        """The street itself (at 0 km) followed by its neighbours: where one incident may be seen."""
        return [(street, 0.0), *self.of(street)]

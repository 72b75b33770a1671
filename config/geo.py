"""The sample city's region polygons (offline GeoJSON): lookups by code, neighbours, point → region.

`regions.geojson` beside this file holds one Polygon per district, street and grid cell,
generated from `regions.yaml` by `riskwatch.tools.make_geojson` (see there for how). The
geometry is illustrative — built from the centroids, not surveyed boundaries — and the file says
so in its metadata. Loads are cached; the functions never touch the network.

Neighbours: two streets are neighbours when their polygons share an edge of positive length
(touching at a single corner does not count). Because every polygon is made of the same
snapped vertices, shared edges are identical segments in both rings, so the test is exact.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

GEOJSON_PATH = Path(__file__).resolve().parent / "regions.geojson"

LonLatPoint = tuple[float, float]
RegionLevel = Literal["district", "street", "grid"]


class GeoError(ValueError):
    """The GeoJSON file is missing, unreadable, or not the shape riskwatch expects."""


class UnknownRegion(KeyError):
    """A region code that has no polygon in the GeoJSON."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown region"


# --------------------------------------------------------------------------- file schema


class _Geo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionProperties(_Geo):
    """What each feature says about its region."""

    code: Annotated[str, Field(pattern=r"^(\d{6}|\d{9}|\d{15})$")]
    name: str
    level: RegionLevel
    parent: str = Field(description="Code of the enclosing region; the city code for a district")
    population: Annotated[int, Field(ge=0)]
    centroid: tuple[float, float] = Field(description="[lon, lat] from regions.yaml")
    illustrative: bool = Field(description="True: built from centroids, not surveyed boundaries")


class PolygonGeometry(_Geo):
    """A GeoJSON Polygon with one closed exterior ring of [lon, lat] positions."""

    type: Literal["Polygon"]
    coordinates: Annotated[list[list[tuple[float, float]]], Field(min_length=1, max_length=1)]

    @field_validator("coordinates")
    @classmethod
    def _closed_ring(cls, rings: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
        ring = rings[0]
        if len(ring) < 4:
            raise ValueError(f"a polygon ring needs at least 4 positions (closed triangle), got {len(ring)}")
        if ring[0] != ring[-1]:
            raise ValueError(f"a polygon ring must end where it starts: {ring[0]} != {ring[-1]}")
        return rings


class RegionFeature(_Geo):
    type: Literal["Feature"]
    properties: RegionProperties
    geometry: PolygonGeometry


class CityMetadata(_Geo):
    """A foreign member of the FeatureCollection (RFC 7946 §6.1) naming the city and the method."""

    city_code: str
    city_name: str
    illustrative: bool
    method: str


class RegionCollection(_Geo):
    type: Literal["FeatureCollection"]
    metadata: CityMetadata
    features: list[RegionFeature] = Field(min_length=1)


# --------------------------------------------------------------------------- lookups


class CityGeometry:
    """Every region's ring, indexed by code, with point location and street neighbours."""

    def __init__(self, collection: RegionCollection) -> None:
        self.collection = collection
        self._features = {f.properties.code: f for f in collection.features}
        self._rings: dict[str, list[LonLatPoint]] = {
            code: [(x, y) for x, y in f.geometry.coordinates[0]] for code, f in self._features.items()
        }
        self._bbox = {code: _bbox(ring) for code, ring in self._rings.items()}
        streets = [c for c, f in self._features.items() if f.properties.level == "street"]
        edges = {code: _undirected_edges(self._rings[code]) for code in streets}
        self._neighbours: dict[str, set[str]] = {
            a: {b for b in streets if b != a and edges[a] & edges[b]} for a in streets
        }

    def polygon_of(self, code: str) -> list[LonLatPoint]:
        """The closed exterior ring of a region, as (lon, lat) pairs."""
        try:
            return list(self._rings[code])
        except KeyError:
            raise UnknownRegion(f"no polygon for region {code!r}: expected a district, street or grid code of {self.collection.metadata.city_name}") from None

    def level_of(self, code: str) -> RegionLevel:
        if code not in self._features:
            raise UnknownRegion(f"no polygon for region {code!r}")
        return self._features[code].properties.level

    def neighbours_of(self, street_code: str) -> set[str]:
        """Streets whose polygons share an edge with this street's polygon."""
        if street_code not in self._neighbours:
            level = self._features[street_code].properties.level if street_code in self._features else None
            what = f"a {level}" if level else "unknown"
            raise UnknownRegion(f"neighbours_of needs a street code (9 digits), got {street_code!r} ({what})")
        return set(self._neighbours[street_code])

    def point_in_region(self, lon: float, lat: float, level: RegionLevel = "grid") -> str | None:
        """The code of the region of `level` containing the point, or None outside the city.

        A point exactly on a shared boundary goes to the region with the lowest code, so the
        answer is deterministic.
        """
        for code in sorted(self._rings):
            if self._features[code].properties.level != level:
                continue
            xmin, ymin, xmax, ymax = self._bbox[code]
            if xmin <= lon <= xmax and ymin <= lat <= ymax and point_in_ring(lon, lat, self._rings[code]):
                return code
        return None


def point_in_ring(x: float, y: float, ring: list[LonLatPoint]) -> bool:
    """Even-odd ray casting; points on the boundary count as inside."""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if _on_segment(x, y, x1, y1, x2, y2):
            return True
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _on_segment(x: float, y: float, x1: float, y1: float, x2: float, y2: float, eps: float = 1e-12) -> bool:
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    if abs(cross) > eps:
        return False
    return min(x1, x2) - eps <= x <= max(x1, x2) + eps and min(y1, y2) - eps <= y <= max(y1, y2) + eps


def _undirected_edges(ring: list[LonLatPoint]) -> set[frozenset[LonLatPoint]]:
    return {frozenset((a, b)) for a, b in zip(ring, ring[1:], strict=False) if a != b}


def _bbox(ring: list[LonLatPoint]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return min(xs), min(ys), max(xs), max(ys)


# --------------------------------------------------------------------------- cached loading


def parse_geojson(data: Any, where: str = "regions.geojson") -> RegionCollection:
    """Validate a decoded GeoJSON document; errors name the feature field that is wrong."""
    try:
        return RegionCollection.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise GeoError(f"{where}: not a riskwatch region FeatureCollection: {details}") from exc


@lru_cache(maxsize=4)
def _load(path: Path) -> tuple[dict[str, Any], CityGeometry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GeoError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise GeoError(f"{path}: not valid JSON: {exc}") from exc
    return data, CityGeometry(parse_geojson(data, str(path.name)))


def load_geojson(path: Path | None = None) -> dict[str, Any]:
    """The region FeatureCollection as a JSON-ready dict (a copy: callers may change it)."""
    return copy.deepcopy(_load(path or GEOJSON_PATH)[0])


def city_geometry(path: Path | None = None) -> CityGeometry:
    """The cached lookup object over the GeoJSON."""
    return _load(path or GEOJSON_PATH)[1]


def polygon_of(code: str) -> list[LonLatPoint]:
    """Closed exterior ring of a district, street or grid, as (lon, lat) pairs."""
    return city_geometry().polygon_of(code)


def neighbours_of(street_code: str) -> set[str]:
    """Streets sharing an edge with this street (across district borders too)."""
    return city_geometry().neighbours_of(street_code)


def point_in_region(lon: float, lat: float) -> str | None:
    """The grid cell containing the point (the most specific region), or None outside the city."""
    return city_geometry().point_in_region(lon, lat)

"""Generate `regions.geojson`: illustrative polygons for every region of `regions.yaml`.

The sample city has centroids, not surveyed boundaries, so the polygons are constructed:

1. Project the grid-cell centroids to a local plane (longitude scaled by cos(latitude), so
   distances are in proportion to metres) and frame them with a rectangle `margin_deg`
   wider than their extent on every side.
2. Each grid cell is its centroid's Voronoi cell inside that frame: the points nearer to it
   than to any other grid centroid. scipy's `HalfspaceIntersection` intersects the frame with
   the perpendicular bisectors, `ConvexHull` orders the corners counter-clockwise.
3. Corners shared by neighbouring cells are snapped to one vertex, so shared edges are the
   same segment in both cells.
4. A street is the union of its grid cells and a district the union of its streets: edges
   shared inside the union cancel, the rest are chained into one ring. A union that is not
   one piece without holes is refused with the region named.

So grids tile their street, streets their district, districts the frame, nothing overlaps
within a level, every grid centroid lies inside its own cell, and locating a point (inside
the frame) gives the grid whose centroid is nearest — the same answer as
`RegionIndex.nearest_grid`. Run `python -m riskwatch.tools.make_geojson` after editing
`regions.yaml`; a unit test fails while the committed file and the YAML disagree.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull, HalfspaceIntersection

from riskwatch.config.geo import GEOJSON_PATH, CityMetadata, PolygonGeometry, RegionCollection, RegionFeature, RegionProperties
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RegionsConfig

DEFAULT_MARGIN_DEG = 0.012
SNAP_TOLERANCE = 1e-9
DECIMALS = 6  # ~0.1 m: plenty for illustrative outlines, keeps the file small

Point = tuple[float, float]
Ring = list[int]  # vertex ids, counter-clockwise, not repeated at the end

METHOD = (
    "Illustrative geometry, not surveyed boundaries: grid cells are Voronoi cells of the grid "
    "centroids (local equirectangular plane) inside a frame around the city; streets and "
    "districts are unions of their grid cells."
)


class GeometryBuildError(ValueError):
    """The centroids in regions.yaml do not give one simple polygon for some region."""


class _Vertices:
    """A vertex table that merges points closer than SNAP_TOLERANCE, so shared corners are one id."""

    def __init__(self) -> None:
        self.points: list[Point] = []

    def id_of(self, x: float, y: float) -> int:
        for i, (px, py) in enumerate(self.points):
            if abs(px - x) <= SNAP_TOLERANCE and abs(py - y) <= SNAP_TOLERANCE:
                return i
        self.points.append((x, y))
        return len(self.points) - 1


def voronoi_cells(sites: Sequence[Point], frame: tuple[float, float, float, float], vertices: _Vertices) -> list[Ring]:
    """Counter-clockwise Voronoi cell (as vertex ids) of each site inside the frame (xmin, ymin, xmax, ymax)."""
    xmin, ymin, xmax, ymax = frame
    box = [[-1.0, 0.0, xmin], [1.0, 0.0, -xmax], [0.0, -1.0, ymin], [0.0, 1.0, -ymax]]
    cells: list[Ring] = []
    for i, (sx, sy) in enumerate(sites):
        halfspaces = list(box)
        for j, (ox, oy) in enumerate(sites):
            if j == i:
                continue
            # Points p nearer to site i than to site j: (o - s)·p - (o - s)·midpoint <= 0.
            ax, ay = ox - sx, oy - sy
            mx, my = (sx + ox) / 2, (sy + oy) / 2
            halfspaces.append([ax, ay, -(ax * mx + ay * my)])
        corners = HalfspaceIntersection(np.array(halfspaces), np.array([sx, sy])).intersections
        hull = ConvexHull(corners)
        ring: Ring = []
        for k in hull.vertices:  # counter-clockwise for 2-D input
            vid = vertices.id_of(float(corners[k][0]), float(corners[k][1]))
            if not ring or ring[-1] != vid:
                ring.append(vid)
        if ring[0] == ring[-1]:
            ring.pop()
        cells.append(ring)
    return cells


def dissolve(cells: Sequence[Ring], what: str) -> Ring:
    """The outline of a union of edge-to-edge counter-clockwise cells, as one ring."""
    directed = {(a, b) for ring in cells for a, b in zip(ring, ring[1:] + ring[:1], strict=True)}
    outline = [(a, b) for a, b in directed if (b, a) not in directed]
    following: dict[int, int] = {}
    for a, b in outline:
        if a in following:
            raise GeometryBuildError(f"{what}: its cells touch at a single corner; the union is not a simple polygon")
        following[a] = b
    start = min(following)
    ring = [start]
    while (nxt := following[ring[-1]]) != start:
        ring.append(nxt)
    if len(ring) != len(following):
        raise GeometryBuildError(f"{what}: its cells form {len(outline) - len(ring)} more boundary edges than one ring — the union has a hole or is in pieces")
    return ring


def build_collection(regions: RegionsConfig, margin_deg: float = DEFAULT_MARGIN_DEG) -> RegionCollection:
    """Polygons for every district, street and grid of `regions` (see the module docstring)."""
    grids = [(d, s, g) for d in regions.districts for s in d.streets for g in s.grids]
    missing = [s.code for d in regions.districts for s in d.streets if not s.grids]
    if missing:
        raise GeometryBuildError(f"streets {missing} have no grid cells; every street needs at least one to get a polygon")
    lat0 = sum(g.centroid[1] for _, _, g in grids) / len(grids)
    kx = math.cos(math.radians(lat0))
    sites = [(g.centroid[0] * kx, g.centroid[1]) for _, _, g in grids]
    xs, ys = [p[0] for p in sites], [p[1] for p in sites]
    frame = (min(xs) - margin_deg * kx, min(ys) - margin_deg, max(xs) + margin_deg * kx, max(ys) + margin_deg)

    vertices = _Vertices()
    cells = voronoi_cells(sites, frame, vertices)
    grid_rings = {g.code: cell for (_, _, g), cell in zip(grids, cells, strict=True)}
    street_rings = {
        s.code: dissolve([grid_rings[g.code] for g in s.grids], f"street {s.code} {s.name}") for d in regions.districts for s in d.streets
    }
    district_rings = {
        d.code: dissolve([grid_rings[g.code] for s in d.streets for g in s.grids], f"district {d.code} {d.name}") for d in regions.districts
    }

    def lonlat(ring: Ring) -> list[Point]:
        pts = [(round(vertices.points[v][0] / kx, DECIMALS), round(vertices.points[v][1], DECIMALS)) for v in ring]
        return [*pts, pts[0]]

    def feature(code: str, name: str, level: str, parent: str, population: int, centroid: Point, ring: Ring) -> RegionFeature:
        return RegionFeature(
            type="Feature",
            properties=RegionProperties(
                code=code, name=name, level=level, parent=parent, population=population, centroid=centroid, illustrative=True  # type: ignore[arg-type]
            ),
            geometry=PolygonGeometry(type="Polygon", coordinates=[lonlat(ring)]),
        )

    features = [feature(d.code, d.name, "district", regions.city_code, d.population, d.centroid, district_rings[d.code]) for d in regions.districts]
    features += [
        feature(s.code, s.name, "street", d.code, s.population, s.centroid, street_rings[s.code]) for d in regions.districts for s in d.streets
    ]
    features += [feature(g.code, g.name, "grid", s.code, g.population, g.centroid, grid_rings[g.code]) for d, s, g in grids]
    return RegionCollection(
        type="FeatureCollection",
        metadata=CityMetadata(city_code=regions.city_code, city_name=regions.city_name, illustrative=True, method=METHOD),
        features=features,
    )


def render(collection: RegionCollection) -> str:
    """The file text: one feature per line, so a diff shows which region moved."""
    head = collection.model_dump(mode="json", exclude={"features"})
    lines = [json.dumps(f.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")) for f in collection.features]
    meta = json.dumps(head["metadata"], ensure_ascii=False)
    return '{"type":"FeatureCollection","metadata":' + meta + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m riskwatch.tools.make_geojson [regions.yaml [out.geojson]]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    source = Path(args[0]) if args else DEFAULT_CONFIG_DIR / "regions.yaml"
    target = Path(args[1]) if len(args) > 1 else GEOJSON_PATH
    target.write_text(render(build_collection(load_model(source, RegionsConfig))), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

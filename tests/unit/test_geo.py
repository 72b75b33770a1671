"""The sample city's GeoJSON: generated from regions.yaml, tiles each level, centroids inside."""

from __future__ import annotations

import itertools

import pytest

from riskwatch.config import geo
from riskwatch.config.geo import GeoError, UnknownRegion, city_geometry, load_geojson, parse_geojson, point_in_ring
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RegionsConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.tools.make_geojson import GeometryBuildError, _Vertices, build_collection, dissolve, render


@pytest.fixture(scope="module")
def regions() -> RegionsConfig:
    return load_model(DEFAULT_CONFIG_DIR / "regions.yaml", RegionsConfig)


@pytest.fixture(scope="module")
def features() -> list[dict]:
    return load_geojson()["features"]


def _area(ring: list[tuple[float, float]]) -> float:
    """Signed shoelace area: positive for counter-clockwise rings."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False)) / 2


def _by_level(features: list[dict], level: str) -> dict[str, dict]:
    return {f["properties"]["code"]: f for f in features if f["properties"]["level"] == level}


def test_committed_file_matches_regions_yaml(regions: RegionsConfig) -> None:
    committed = geo.GEOJSON_PATH.read_text(encoding="utf-8")
    assert committed == render(build_collection(regions)), "regions.geojson is stale: run python -m riskwatch.tools.make_geojson"


def test_one_feature_per_region_with_parent_and_population(regions: RegionsConfig, features: list[dict]) -> None:
    index = RegionIndex(regions)
    codes = [f["properties"]["code"] for f in features]
    assert sorted(codes) == sorted(r.code for r in [*index.districts, *index.streets, *index.grids])
    for f in features:
        props = f["properties"]
        region = index.get(props["code"])
        assert region is not None and props["level"] == region.level and props["name"] == region.name
        assert props["population"] == region.population and props["illustrative"] is True
        expected_parent = {"district": regions.city_code, "street": region.district_code, "grid": region.street_code}[region.level]
        assert props["parent"] == expected_parent


def test_rings_are_closed_counter_clockwise_and_centroids_inside(features: list[dict]) -> None:
    for f in features:
        ring = [tuple(p) for p in f["geometry"]["coordinates"][0]]
        assert len(ring) >= 4 and ring[0] == ring[-1]
        assert _area(ring) > 0, f"{f['properties']['code']} ring is not counter-clockwise"
        lon, lat = f["properties"]["centroid"]
        assert point_in_ring(lon, lat, ring), f"centroid of {f['properties']['code']} is outside its polygon"


def test_grid_centroid_locates_its_own_grid(features: list[dict]) -> None:
    for code, f in _by_level(features, "grid").items():
        assert geo.point_in_region(*f["properties"]["centroid"]) == code


def test_each_level_tiles_its_parent_without_overlap(features: list[dict]) -> None:
    """Every point of the city lies in exactly one region of each level, and that region's parent."""
    districts, streets, grids = (_by_level(features, lv) for lv in ("district", "street", "grid"))
    rings = {code: [tuple(p) for p in f["geometry"]["coordinates"][0]] for code, f in {**districts, **streets, **grids}.items()}
    xs = [p[0] for code in districts for p in rings[code]]
    ys = [p[1] for code in districts for p in rings[code]]
    steps = 47  # an odd lattice, offset from the frame, so no sample sits on a boundary
    checked = 0
    for i, j in itertools.product(range(steps), range(steps)):
        lon = min(xs) + (max(xs) - min(xs)) * (i + 0.37) / steps
        lat = min(ys) + (max(ys) - min(ys)) * (j + 0.61) / steps
        hits = {level: [c for c in group if point_in_ring(lon, lat, rings[c])] for level, group in (("district", districts), ("street", streets), ("grid", grids))}
        assert all(len(h) == 1 for h in hits.values()), f"({lon}, {lat}) lies in {hits}"
        assert grids[hits["grid"][0]]["properties"]["parent"] == hits["street"][0]
        assert streets[hits["street"][0]]["properties"]["parent"] == hits["district"][0]
        checked += 1
    assert checked == steps * steps


def test_areas_add_up_level_by_level(features: list[dict]) -> None:
    area = {f["properties"]["code"]: _area([tuple(p) for p in f["geometry"]["coordinates"][0]]) for f in features}
    parent = {f["properties"]["code"]: f["properties"]["parent"] for f in features}
    for level, parent_level in (("grid", "street"), ("street", "district")):
        for code in _by_level(features, parent_level):
            children = [c for c in _by_level(features, level) if parent[c] == code]
            assert sum(area[c] for c in children) == pytest.approx(area[code], rel=1e-6)


def test_streets_sharing_an_edge_are_neighbours() -> None:
    city = city_geometry()
    streets = [c for c in (f["properties"]["code"] for f in load_geojson()["features"]) if len(c) == 9]
    for street in streets:
        neighbours = geo.neighbours_of(street)
        assert neighbours, f"{street} has no neighbour"
        assert street not in neighbours
        for other in neighbours:
            assert street in city.neighbours_of(other)
    # 建设路 borders 林山寨 in the same district; 林山寨 (west) is far from 人民路 (north-east).
    assert "410102001" in geo.neighbours_of("410102002")
    assert "410105003" not in geo.neighbours_of("410102001")


def test_neighbours_of_needs_a_street() -> None:
    with pytest.raises(UnknownRegion, match="needs a street code"):
        geo.neighbours_of("410102001001001")


def test_point_outside_the_city_is_none() -> None:
    assert geo.point_in_region(116.4, 39.9) is None
    assert city_geometry().point_in_region(113.6, 34.75, level="district") == "410102"


def test_polygon_of_returns_closed_lonlat_ring_and_names_unknown_codes() -> None:
    ring = geo.polygon_of("410103001")
    assert ring[0] == ring[-1] and all(113 < lon < 114 and 34 < lat < 35 for lon, lat in ring)
    with pytest.raises(UnknownRegion, match="no polygon for region '999999'"):
        geo.polygon_of("999999")


def test_load_geojson_returns_a_copy() -> None:
    first = load_geojson()
    first["features"].clear()
    assert load_geojson()["features"]


def test_parse_refuses_an_open_ring() -> None:
    data = load_geojson()
    data["features"][0]["geometry"]["coordinates"][0].pop()
    with pytest.raises(GeoError, match="must end where it starts"):
        parse_geojson(data)


def test_dissolve_refuses_pieces_that_only_touch_at_a_corner() -> None:
    vertices = _Vertices()
    square = [vertices.id_of(x, y) for x, y in ((0, 0), (1, 0), (1, 1), (0, 1))]
    corner_touching = [vertices.id_of(x, y) for x, y in ((1, 1), (2, 1), (2, 2), (1, 2))]
    with pytest.raises(GeometryBuildError, match="single corner"):
        dissolve([square, corner_touching], "street X")
    neighbour = [vertices.id_of(x, y) for x, y in ((1, 0), (2, 0), (2, 1), (1, 1))]
    assert len(dissolve([square, neighbour], "street Y")) == 6

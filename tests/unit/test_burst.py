"""Burst detector: tight space-time clusters of related reports, against a learned background."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from riskwatch.config.detector_params import BurstConfig, CountSurgeConfig
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RegionsConfig
from riskwatch.config.regions import RegionIndex, haversine_km
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import Detector
from riskwatch.detectors.burst import BurstDetector, poisson_tail
from riskwatch.detectors.count_surge import CountSurgeDetector
from tests.factories import T0

REGIONS = RegionIndex(load_model(DEFAULT_CONFIG_DIR / "regions.yaml", RegionsConfig))
LONS = (113.595, 113.705)
LATS = (34.700, 34.800)
# Background mix of 110 categories, roughly as a city's incidents are spread.
MIX = ["traffic_accident"] * 4 + ["public_order"] * 3 + ["criminal"] * 2 + ["assistance", "fire", "gas_supply"]
CENTRE = (113.650, 34.750)


def police_event(n: int | str, at: datetime, lon: float, lat: float, category: str) -> Event:
    """A 110 incident as the normalizer would place it: nearest grid, its street and district."""
    grid = REGIONS.nearest_grid(lon, lat)
    assert grid is not None
    return Event(
        event_id=f"police:{n}",
        source=Source.police,
        occurred_at=at,
        region_code=grid.code,
        district_code=grid.district_code,
        street_code=grid.street_code,
        category=category,
        priority=2,
        lat=lat,
        lon=lon,
    )


def hotline_event(n: int | str, at: datetime, street: str, category: str) -> Event:
    """A 12345 work order: placed by street, no coordinates."""
    return Event(
        event_id=f"hotline:{n}",
        source=Source.hotline,
        occurred_at=at,
        region_code=street,
        district_code=street[:6],
        street_code=street,
        category=category,
    )


def city_point(rng: random.Random) -> tuple[float, float]:
    """A uniform random point of the city (within reach of one of its grids)."""
    while True:
        lon, lat = rng.uniform(*LONS), rng.uniform(*LATS)
        if REGIONS.nearest_grid(lon, lat) is not None:
            return lon, lat


def background(rng: random.Random, hours: float, per_hour: float, start: datetime = T0) -> list[Event]:
    """Poisson arrivals of 110 incidents at uniform random points over the city."""
    events, t, n = [], 0.0, 0
    while True:
        t += rng.expovariate(per_hour)
        if t >= hours:
            return events
        n += 1
        lon, lat = city_point(rng)
        events.append(police_event(f"B{start:%d}-{n}", start + timedelta(hours=t), lon, lat, rng.choice(MIX)))


def near(rng: random.Random, lon: float, lat: float, metres: float) -> tuple[float, float]:
    """A point uniformly within `metres` of (lon, lat)."""
    r, a = metres * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    return lon + r * math.cos(a) / (111_320 * math.cos(math.radians(lat))), lat + r * math.sin(a) / 110_574


def run(detector: Detector, events: list[Event]) -> list[Signal]:
    return [s for e in events if detector.accepts(e) for s in detector.observe(e)]


def cluster(rng: random.Random, start: datetime, minutes: list[float], category: str, spread_m: float = 200.0) -> list[Event]:
    """Reports of one category within `spread_m` of the centre at the given minutes after `start`."""
    return [
        police_event(f"C{start:%d%H%M}-{i}", start + timedelta(minutes=m), *near(rng, *CENTRE, spread_m), category)
        for i, m in enumerate(minutes)
    ]


def test_poisson_tail_matches_direct_sum() -> None:
    assert poisson_tail(0, 0.3) == 1.0
    assert poisson_tail(1, 0.3) == pytest.approx(1 - math.exp(-0.3))
    direct = 1 - sum(math.exp(-2.0) * 2.0**k / math.factorial(k) for k in range(5))
    assert poisson_tail(5, 2.0) == pytest.approx(direct, rel=1e-9)
    # Deep tails stay accurate where 1 - cdf would round to 0.
    assert poisson_tail(12, 0.05) == pytest.approx(math.exp(-0.05) * 0.05**12 / math.factorial(12), rel=1e-6)


def test_fires_on_a_tight_cluster_but_not_the_same_reports_spread_city_wide() -> None:
    rng = random.Random(11)
    history = background(rng, hours=72, per_hour=40)
    start = T0 + timedelta(hours=72, minutes=10)
    minutes = [0, 3, 5, 9, 14, 18]
    tight = cluster(rng, start, minutes, "public_order")
    spread = [
        police_event(f"S{i}", start + timedelta(minutes=m), *city_point(rng), "public_order")
        for i, m in enumerate(minutes)
    ]

    quiet = BurstDetector(BurstConfig(sources=[Source.police]))
    assert run(quiet, history) == [], "uniform background must raise no bursts"
    assert run(quiet, spread) == []

    detector = BurstDetector(BurstConfig(sources=[Source.police]))
    run(detector, history)
    signals = run(detector, tight)
    assert signals, "six public-order calls within 200 m in 18 min must be a burst"
    first = signals[0]
    assert first.kind is SignalKind.burst and first.detector == "burst" and first.source is Source.police
    assert first.category == "public_order"
    assert first.observed >= 4 and first.expected is not None and first.expected < 1.0
    assert 0.5 <= first.score <= 1.0
    assert set(first.evidence) <= {e.event_id for e in tight}
    assert len(first.region_code) == 15 and REGIONS.get(first.region_code) is not None
    lon, lat = REGIONS.get(first.region_code).centroid  # type: ignore[union-attr]
    assert haversine_km(lon, lat, *CENTRE) < 1.5
    assert "半径 500 m 范围内" in first.reason and "起 public_order 类110警情" in first.reason and "预期" in first.reason


def test_fires_before_the_hourly_count_moves() -> None:
    """A cluster across an hour boundary: the hourly street count never stands out as much."""
    rng = random.Random(5)
    history = background(rng, hours=72, per_hour=40)
    start = T0 + timedelta(hours=72, minutes=50)  # ten minutes before an hour boundary
    tight = cluster(rng, start, [4 * i for i in range(12)], "traffic_accident")  # one every 4 min
    stream = sorted(history + tight, key=lambda e: e.occurred_at)

    burst = BurstDetector(BurstConfig(sources=[Source.police]))
    hourly = CountSurgeDetector(CountSurgeConfig(sources=[Source.police], bucket=timedelta(hours=1)))
    burst_signals = [s for s in run(burst, stream) if s.category == "traffic_accident"]
    surge_signals = [s for s in run(hourly, stream) if s.category == "traffic_accident" and s.at >= start]
    assert burst_signals and burst_signals[0].at <= start + timedelta(minutes=12)
    assert surge_signals, "the hourly count does move eventually"
    assert surge_signals[0].at - burst_signals[0].at >= timedelta(minutes=10)


def test_hotline_reports_without_coordinates_cluster_by_street() -> None:
    street, other = "410105002", "410102001"
    detector = BurstDetector()
    # A week of ordinary gas calls: about one a day in each street.
    history = [
        hotline_event(f"H{d}-{s}", T0 + timedelta(days=d, hours=9 + 3 * i), s, "gas_supply")
        for d in range(7)
        for i, s in enumerate([street, other])
    ]
    assert run(detector, history) == []
    start = T0 + timedelta(days=7, hours=20)
    calls = [hotline_event(f"G{i}", start + timedelta(minutes=3 * i), street, "gas_supply") for i in range(6)]
    signals = run(detector, calls)
    assert signals and signals[0].region_code == street and signals[0].district_code == "410105"
    assert f"街道 {street} 内" in signals[0].reason
    assert signals[0].evidence[-1] in {c.event_id for c in calls}


def test_one_signal_per_cluster_per_window_unless_it_grows() -> None:
    rng = random.Random(3)
    detector = BurstDetector(BurstConfig(sources=[Source.police], regrow_factor=1.5))
    run(detector, background(rng, hours=48, per_hour=30))
    start = T0 + timedelta(hours=48, minutes=5)
    reports = cluster(rng, start, [i * 2.0 for i in range(12)], "fire", spread_m=100)
    signals = run(detector, reports)
    counts = [int(s.observed) for s in signals]
    assert 1 < len(signals) < 6, counts  # not one per report
    assert all(b >= 1.5 * a for a, b in zip(counts, counts[1:], strict=False)), counts
    assert len({s.signal_id for s in signals}) == len(signals)
    # The same place an hour later is a new cluster and may signal again.
    later = cluster(rng, start + timedelta(hours=2), [0, 1, 2, 3, 4, 5], "fire", spread_m=100)
    assert run(detector, later)


def test_is_causal_and_deterministic() -> None:
    rng = random.Random(21)
    stream = sorted(
        background(rng, hours=30, per_hour=40) + cluster(rng, T0 + timedelta(hours=29), [0, 2, 4, 6, 8], "criminal"),
        key=lambda e: e.occurred_at,
    )
    cut = len(stream) - 2
    a, b = BurstDetector(), BurstDetector()
    first = [b.observe(e) for e in stream[:cut]]
    second = [a.observe(e) for e in stream]
    assert first == second[:cut]
    assert any(second)


def test_memory_stays_bounded_over_a_long_stream() -> None:
    rng = random.Random(8)
    config = BurstConfig(sources=[Source.police])
    detector = BurstDetector(config)
    sizes = []
    per_hour, retention_h = 60.0, (config.window + config.lateness).total_seconds() / 3600
    for day in range(0, 28, 4):
        run(detector, background(rng, hours=96, per_hour=per_hour, start=T0 + timedelta(days=day)))
        sizes.append(detector.memory_size())
    for size in sizes:
        assert size["window_reports"] == size["heap"]
        assert size["window_reports"] <= 3 * per_hour * retention_h
        assert size["signalled_clusters"] <= 5
    # Background cells are bounded by the city's area × categories, not by the stream length.
    cells = [s["background_cells"] for s in sizes]
    assert cells[-1] <= cells[len(cells) // 2] * 1.1 + 10, cells


def test_late_reports_only_teach_the_background() -> None:
    detector = BurstDetector(BurstConfig(sources=[Source.police], lateness=timedelta(0)))
    run(detector, [police_event("now", T0 + timedelta(hours=5), *CENTRE, "fire")])
    old = [police_event(f"old{i}", T0 + timedelta(minutes=i), *CENTRE, "fire") for i in range(6)]
    assert run(detector, old) == []
    assert detector.memory_size()["window_reports"] == 1


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="radius_m"):
        BurstConfig(radius_m=0)
    with pytest.raises(ValidationError, match="only one category group"):
        BurstConfig(category_groups={"utilities": ["gas_supply", "water_supply"], "gas": ["gas_supply"]})
    with pytest.raises(ValidationError, match="window must be positive"):
        BurstConfig(window=timedelta(0))
    assert isinstance(BurstDetector(), Detector)


def test_category_groups_count_related_categories_together() -> None:
    config = BurstConfig(sources=[Source.police], category_groups={"utilities": ["gas_supply", "water_supply", "fire"]})
    detector = BurstDetector(config)
    rng = random.Random(2)
    run(detector, background(rng, hours=48, per_hour=20))
    start = T0 + timedelta(hours=48, minutes=1)
    mixed = [
        police_event(f"M{i}", start + timedelta(minutes=3 * i), *near(rng, *CENTRE, 150), cat)
        for i, cat in enumerate(["gas_supply", "fire", "gas_supply", "water_supply", "gas_supply"])
    ]
    signals = run(detector, mixed)
    assert signals and signals[0].category == "gas_supply"


def test_no_bursts_before_the_background_has_warmed_up() -> None:
    rng = random.Random(9)
    detector = BurstDetector(BurstConfig(sources=[Source.police], warmup=timedelta(hours=12)))
    assert run(detector, cluster(rng, T0, [0, 1, 2, 3, 4, 5], "fire")) == []
    run(detector, background(rng, hours=14, per_hour=20, start=T0 + timedelta(minutes=10)))
    assert run(detector, cluster(rng, T0 + timedelta(hours=14, minutes=20), [0, 1, 2, 3, 4, 5], "fire"))

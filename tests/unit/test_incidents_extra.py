"""The extra incident kinds: each produces its own shape and its ground truth."""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta
from itertools import combinations
from typing import get_args

import pytest

from riskwatch.config.loader import load_city_config
from riskwatch.contracts import PoliceRecord, Source
from riskwatch.simulator.generate import CST, INCIDENT_KINDS, Writer, simulate
from riskwatch.simulator.incidents_extra import EXTRA_KINDS, HEALTH_KINDS, daily_profile, metric_for, towards_limit
from riskwatch.simulator.scenario import IncidentKind, Scenario, builtin_scenarios, load_scenario

START = datetime(2026, 11, 23, 0, 0, tzinfo=CST)


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat()


def inc(id: str, kind: str, street: str, start_h: float, duration: str, categories: list[str], level: str | None = "IV",
        intensity: float = 1.0) -> dict:
    return {"id": id, "kind": kind, "street": street, "start": at(start_h), "duration": duration, "intensity": intensity,
            "expected_level": level, "expected_categories": categories}


SCENARIO = {
    "name": "extra_kinds", "start": START.isoformat(), "duration": "P2D", "seed": 42,
    "background": {
        "hotline_per_hour": 30, "police_per_hour": 8,
        "sensors": {"water_pressure": {"per_street": 2, "streets": ["410102001", "410102002", "410103001", "410104001"]}},
    },
    "incidents": [
        inc("spike", "sensor_spike", "410102001", 10, "PT15M", ["water_supply"], intensity=0.8),
        inc("shift", "level_shift", "410102002", 12, "PT12H", ["water_supply"]),
        inc("drift", "slow_drift", "410103002", 8, "PT6H", ["gas_supply"]),
        inc("stuck", "stuck_sensor", "410103001", 6, "PT10H", ["water_supply"], level=None),
        inc("season", "seasonal_break", "410104001", 24, "PT24H", ["water_supply"]),
        inc("surge", "hotline_surge", "410104002", 9, "PT4H", ["power_supply"], level="III"),
        inc("burst", "police_burst", "410105001", 21, "PT30M", ["public_order"], level="III"),
        inc("multi", "multi_source", "410105003", 14, "PT3H", ["water_supply"], level="II"),
    ],
}


@pytest.fixture(scope="module")
def city():
    return load_city_config()


@pytest.fixture(scope="module")
def sim(city):
    return simulate(Scenario.model_validate(SCENARIO), city)


def readings(sim, device: str) -> list[tuple[datetime, float]]:
    return [(r.event_time, r.record.value) for r in sim.records
            if r.source is Source.sensor and r.record.device_id == device]  # type: ignore[union-attr]


def window(series: list[tuple[datetime, float]], lo_h: float, hi_h: float) -> list[float]:
    lo, hi = START + timedelta(hours=lo_h), START + timedelta(hours=hi_h)
    return [v for t, v in series if lo <= t < hi]


def truth(sim, id: str):
    return next(t for t in sim.ground_truth if t.id == id)


def test_kinds_are_registered_and_accepted_by_scenarios() -> None:
    assert set(EXTRA_KINDS) <= set(INCIDENT_KINDS)
    assert set(get_args(IncidentKind)) == set(INCIDENT_KINDS)


def test_bench_scenarios_load_with_varied_kinds(city) -> None:
    names = [n for n in builtin_scenarios() if n.startswith("bench_")]
    assert len(names) >= 3
    kinds = {i.kind for n in names for i in load_scenario(n, city).incidents}
    assert set(EXTRA_KINDS) <= kinds


def test_sensor_spike_hits_one_device_briefly(sim, city) -> None:
    spec = metric_for(Scenario.model_validate(SCENARIO).incidents[0], Writer(city))
    direction, distance = towards_limit(spec)
    hit, twin = readings(sim, "WP-410102001-01"), readings(sim, "WP-410102001-02")
    before, during, after = window(hit, 8, 10), window(hit, 10, 10.25), window(hit, 10.5, 12)
    assert during and all(abs(v - statistics.median(before)) > 0.5 * 0.8 * distance for v in during)
    assert direction < 0 and max(during) < min(before)
    assert abs(statistics.median(after) - statistics.median(before)) < 0.03
    assert min(window(twin, 10, 10.25)) > min(before) - 0.02  # the other device in the street is untouched
    assert truth(sim, "spike").devices == ["WP-410102001-01"]


def test_level_shift_moves_and_stays(sim) -> None:
    series = readings(sim, "WP-410102002-01")
    before, later = window(series, 9, 12), window(series, 13, 24)
    assert statistics.mean(before) - statistics.mean(later) > 0.06
    assert statistics.pstdev(later) < 0.03  # a new level, not a transient
    assert abs(statistics.mean(window(readings(sim, "WP-410102002-02"), 13, 24)) - statistics.mean(before)) < 0.04


def test_slow_drift_crosses_the_alarm_limit_gradually(sim, city) -> None:
    series = readings(sim, "GC-410103002-01")
    limit = next(m for m in city.taxonomy.sensor_metrics if m.metric == "gas_concentration").alarm_high
    hourly = [statistics.mean(window(series, 8 + h, 9 + h)) for h in range(6)]
    assert all(b > a for a, b in zip(hourly, hourly[1:]))
    assert hourly[0] < limit / 2 and max(window(series, 13, 14)) > limit
    t = truth(sim, "drift")
    assert t.first_at["sensor"] is not None and t.first_at["sensor"] > at(12)


def test_stuck_sensor_repeats_one_value_and_is_a_health_case(sim) -> None:
    during = window(readings(sim, "WP-410103001-01"), 6, 16)
    assert len(during) == 120 and len(set(during)) == 1
    assert len(set(window(readings(sim, "WP-410103001-01"), 16, 20))) > 10
    assert len(set(window(readings(sim, "WP-410103001-02"), 6, 16))) > 10
    t = truth(sim, "stuck")
    assert t.expected_level is None and "stuck_sensor" in HEALTH_KINDS
    doc = next(d for d in sim.ground_truth_doc()["incidents"] if d["id"] == "stuck")
    assert doc["expected_level"] is None


def test_seasonal_break_flattens_the_daily_profile(sim, city) -> None:
    series = readings(sim, "WP-410104001-01")
    profile = daily_profile(next(m for m in city.taxonomy.sensor_metrics if m.metric == "water_pressure"))
    assert abs(profile(START + timedelta(hours=3))) > 0.01  # there is a rhythm to break

    def swing(day: int) -> float:
        night = statistics.mean(window(series, 24 * day + 2, 24 * day + 4))
        morning = statistics.mean(window(series, 24 * day + 7, 24 * day + 8.5))
        return night - morning

    assert swing(0) > 0.04 and abs(swing(1)) < 0.015
    lo, hi = min(window(series, 0, 24)), max(window(series, 0, 24))
    assert all(lo - 0.01 <= v <= hi + 0.01 for v in window(series, 24.5, 48))  # still within the normal range


def test_hotline_surge_is_one_category_in_one_street(sim, city) -> None:
    mine = [r for r in sim.records if r.incident == "surge"]
    assert len(mine) >= 15 and {r.source for r in mine} == {Source.hotline}
    assert {r.street_code for r in mine} == {"410104002"} and {r.category for r in mine} == {"power_supply"}
    keywords = next(c for c in city.taxonomy.categories if c.code == "power_supply").keywords
    assert all(any(k in r.record.content for k in keywords) for r in mine)  # type: ignore[union-attr]
    first_hour = [r for r in mine if r.event_time < START + timedelta(hours=10)]
    assert len(first_hour) >= len(mine) / 4


def test_police_burst_is_tight_in_space_and_time(sim, city) -> None:
    mine = [r.record for r in sim.records if r.incident == "burst"]
    assert len(mine) >= 4 and all(isinstance(r, PoliceRecord) for r in mine)
    for a, b in combinations(mine, 2):
        assert _metres(a.lon, a.lat, b.lon, b.lat) <= 500  # type: ignore[union-attr]
    times = sorted(r.reported_at for r in mine)  # type: ignore[union-attr]
    assert times[-1] - times[0] <= timedelta(minutes=20)
    assert {city.taxonomy.police_types[r.type_code] for r in mine} == {"public_order"}  # type: ignore[union-attr]


def test_multi_source_has_all_three_sources(sim) -> None:
    t = truth(sim, "multi")
    assert t.records["hotline"] >= 3 and t.records["police"] >= 2 and t.records["sensor"] > 0
    assert set(t.devices) == {"WP-410105003-01"}  # the metric's device, added for the incident
    series = readings(sim, "WP-410105003-01")
    assert statistics.mean(window(series, 12, 14)) - statistics.mean(window(series, 15, 16.5)) > 0.05
    assert t.first_at["sensor"] is None  # moved, but stays inside the limits


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 6371000 * 2 * math.asin(math.sqrt(a))

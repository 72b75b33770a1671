"""More incident kinds for back-testing: one shape each, so detectors can be scored per shape.

Sensor shapes act on one metric, chosen from the incident's `expected_categories` (the first
category that a sensor metric in `taxonomy.yaml` reports: `water_supply` → water pressure,
`gas_supply` → gas concentration, `road_traffic` → ponding depth, `environment` → PM2.5), and
the size of a change is measured against the distance from the metric's usual level to its
alarm limit (`intensity` 1.0 = reaching the limit), in the direction the limit lies:

- `sensor_spike`: one device jumps for the incident's (short) duration, then is normal again;
- `level_shift`: one device's level moves by half the distance to the limit within minutes and
  stays there until the incident ends;
- `slow_drift`: one device drifts linearly, crossing the alarm limit at 80 % of the duration;
- `stuck_sensor`: one device repeats the value it read when the incident began. A fault for
  maintenance, not an event: label it `expected_level: null` (see `HEALTH_KINDS`);
- `seasonal_break`: one device loses its daily rhythm (no night-time rise, no demand dips)
  while staying inside its normal range; needs a metric with a daily profile (water pressure,
  PM2.5), water pressure otherwise.

Report shapes:

- `hotline_surge`: 12345 calls of the first expected category surge in the street (~10 an
  hour at first, decaying); meant for a category no sensor watches (power, heating);
- `police_burst`: a tight cluster of 110 reports of the category's type code, all within
  250 m of one point (so within 500 m of each other) and within 20 minutes.

And `multi_source`: a moderate sensor change on every device of the category's metric in the
street (below the alarm limit), a hotline surge and a few 110 reports together — evidence that
only fusion across sources makes strong.

Registered with `@incident_kind` like the built-in kinds of `incidents.py`; `generate.py` imports
this module so that every kind is known.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from riskwatch.config.models import SensorMetric
from riskwatch.simulator.incidents import incident_kind
from riskwatch.simulator.scenario import Incident
from riskwatch.simulator.writer import (
    ASK,
    CST,
    DEVICE_PREFIX,
    POLICE_TYPES,
    Device,
    Effects,
    SensorEffect,
    Writer,
    _Draft,
    baseline_value,
    envelope,
    poisson,
)

#: Kinds that are sensor faults: they should reach maintenance (a `health` signal), not the
#: command center. Their ground truth carries `expected_level: null`.
HEALTH_KINDS = frozenset({"stuck_sensor"})

#: Every kind this module registers.
EXTRA_KINDS = ("sensor_spike", "level_shift", "slow_drift", "stuck_sensor", "seasonal_break", "hotline_surge",
               "police_burst", "multi_source")

# Usual level of each simulated metric (see `writer.nominal_value`); others use 30 % of the way to the limit.
TYPICAL = {"water_pressure": 0.30, "gas_concentration": 1.0, "ponding_depth": 0.2, "pm25": 85.0}
RHYTHMIC = ("water_pressure", "pm25")  # metrics whose baseline has a daily profile

SURGE_TEXTS: dict[str, tuple[str, ...]] = {
    "power_supply": ("{place}{since}突然停电了，整栋楼都没电，{ask}", "{place}停电好几个小时了，冰箱里的东西都化了，{ask}",
                     "{place}附近一片都停电了，什么时候能来电？", "{place}电压不稳，灯一直闪，刚才又跳闸了，{ask}"),
    "heating": ("{place}暖气突然不热了，家里老人孩子冻得受不了，{ask}", "{place}整栋楼暖气都是凉的，{ask}",
                "{place}供暖中断了，物业说是管网问题，{ask}"),
    "water_supply": ("{place}{since}停水了，{ask}", "{place}水压很低，楼上基本没水，{ask}",
                     "{place}自来水水发黄，还有异味，{ask}"),
    "gas_supply": ("{place}楼道里有燃气味，{ask}", "{place}天然气突然停气了，没法做饭，{ask}"),
    "environment": ("{place}附近有很大的异味，呛得人难受，{ask}", "{place}有人焚烧垃圾，烟很大，{ask}",
                    "{place}附近工厂排污，河里的水都变色了，{ask}"),
    "road_traffic": ("{road}道路积水很深，车辆无法通行，{ask}", "{road}路面塌陷了一个大坑，{ask}"),
}
BURST_ADDRESS = {"0100": "发生抢劫", "0200": "有人聚集斗殴", "0300": "发生事故", "0301": "燃气泄漏",
                 "0302": "道路积水", "0303": "供水管网漏水", "0400": "多车追尾", "0500": "着火冒烟", "0600": "有人被困"}


# ----------------------------------------------------------------------------- helpers


def metric_for(inc: Incident, w: Writer, prefer: tuple[str, ...] = (), default: str = "water_pressure") -> SensorMetric:
    """The sensor metric an incident acts on: the first expected category a metric reports
    (restricted to `prefer` when given), else `default`."""
    metrics = {m.metric: m for m in w.city.taxonomy.sensor_metrics}
    by_category: dict[str, str] = {}
    for m in w.city.taxonomy.sensor_metrics:
        if not prefer or m.metric in prefer:
            by_category.setdefault(m.category, m.metric)
    for category in inc.expected_categories:
        if category in by_category:
            return metrics[by_category[category]]
    return metrics[default]


def target_device(metric: str, street: str) -> str:
    """The id the generator gives the first device of a metric in a street."""
    return f"{DEVICE_PREFIX.get(metric, metric[:2].upper())}-{street}-01"


def towards_limit(spec: SensorMetric) -> tuple[float, float]:
    """(direction, distance): +1 towards a high alarm limit or -1 towards a low one, and how far
    the limit is from the metric's usual level."""
    if spec.alarm_high is not None:
        limit, direction = spec.alarm_high, 1.0
    elif spec.alarm_low is not None:
        limit, direction = spec.alarm_low, -1.0
    else:
        return 1.0, 0.25 * (spec.valid_max - spec.valid_min)
    typical = TYPICAL.get(spec.metric, spec.valid_min + 0.3 * (limit - spec.valid_min))
    return direction, abs(limit - typical)


class _NoNoise(random.Random):
    """A random source whose Gaussian draws are their mean: the baseline without noise."""

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return mu


def daily_profile(spec: SensorMetric) -> Callable[[datetime], float]:
    """A metric's noiseless daily rhythm around its own 24-hour mean (0 for a flat metric)."""
    probe = Device("profile", spec.metric, spec.unit, "", "", 0.0, 0.0, 0.0, timedelta(0))
    day = datetime(2026, 1, 1, tzinfo=CST)

    def raw(at: datetime) -> float:
        return baseline_value(probe, at, _NoNoise(), {})

    mean = sum(raw(day + timedelta(minutes=m)) for m in range(0, 1440, 5)) / 288

    def profile(at: datetime) -> float:
        return raw(at) - mean

    return profile


def _device_effect(inc: Incident, metric: str, fn: Callable[[timedelta, float, random.Random], float],
                   devices: frozenset[str] | None) -> SensorEffect:
    return SensorEffect(metric, frozenset({inc.street}), inc.start, inc.end, fn, inc.id, devices=devices)


def _one_device(inc: Incident, spec: SensorMetric, fn: Callable[[timedelta, float, random.Random], float]) -> Effects:
    device = target_device(spec.metric, inc.street)
    return Effects(sensors=[_device_effect(inc, spec.metric, fn, frozenset({device}))], requires=[spec.metric])


def report_times(rng: random.Random, inc: Incident, first_hour: float, decay: float,
                 onset: timedelta = timedelta(minutes=5)) -> list[datetime]:
    """Report times after `onset`: Poisson, `first_hour` expected in the first hour, then
    multiplied by `decay` each further hour, until the incident ends."""
    times: list[datetime] = []
    hour = timedelta(hours=1)
    for h in range(math.ceil(inc.duration / hour)):
        lo = onset if h == 0 else hour * h
        hi = min(hour * (h + 1), inc.duration)
        if hi <= lo:
            continue
        for _ in range(poisson(rng, first_hour * decay**h * ((hi - lo) / hour))):
            offset = lo + (hi - lo) * rng.random()
            times.append(inc.start + timedelta(seconds=int(offset.total_seconds())))
    return sorted(times)


def police_code(inc: Incident, w: Writer) -> str | None:
    """The 110 type code of the first expected category that has one (sub-tier codes first)."""
    codes = w.city.taxonomy.police_types
    for category in inc.expected_categories:
        mine = sorted((c for c, cat in codes.items() if cat == category), key=lambda c: (c.endswith("00"), c))
        if mine:
            return mine[0]
    return None


def surge_calls(inc: Incident, w: Writer, rng: random.Random, category: str, first_hour: float,
                decay: float) -> list[_Draft]:
    """12345 orders of one category in the incident's street, as a surge."""
    texts = SURGE_TEXTS.get(category)
    since = f"从{inc.start.astimezone(CST).hour}点多开始"
    drafts = []
    for at in report_times(rng, inc, first_hour, decay):
        content = None
        if texts:
            place = w.place(rng, inc.street)[0]
            content = rng.choice(texts).format(place=place, since=since, ask=rng.choice(ASK), road=w.road(inc.street))
        drafts.append(w.hotline(rng, at, inc.street, category, content, None, inc.id))
    return drafts


def offset_point(lon: float, lat: float, east_km: float, north_km: float) -> tuple[float, float]:
    """A point `east_km` east and `north_km` north of (lon, lat)."""
    return (round(lon + east_km / (111.32 * math.cos(math.radians(lat))), 6), round(lat + north_km / 110.57, 6))


# ----------------------------------------------------------------------------- sensor shapes


@incident_kind("sensor_spike")
def sensor_spike(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """One device jumps towards (intensity 1: to) its alarm limit for the incident's duration."""
    spec = metric_for(inc, w)
    direction, distance = towards_limit(spec)
    amplitude = direction * distance * inc.intensity

    def spike(el: timedelta, v: float, r: random.Random) -> float:
        return v + amplitude * (1 + r.gauss(0, 0.05))

    return _one_device(inc, spec, spike)


@incident_kind("level_shift")
def level_shift(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """One device's level moves by `intensity` × half the way to its limit within 10 minutes and stays."""
    spec = metric_for(inc, w)
    direction, distance = towards_limit(spec)
    shift = direction * 0.5 * distance * inc.intensity
    ramp = min(timedelta(minutes=10), inc.duration)

    def shifted(el: timedelta, v: float, _: random.Random) -> float:
        return v + shift * min(1.0, el / ramp)

    return _one_device(inc, spec, shifted)


@incident_kind("slow_drift")
def slow_drift(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """One device drifts linearly; at intensity 1 it crosses its alarm limit at 80 % of the duration."""
    spec = metric_for(inc, w)
    direction, distance = towards_limit(spec)
    total = direction * 1.25 * distance * inc.intensity

    def drift(el: timedelta, v: float, _: random.Random) -> float:
        return v + total * (el / inc.duration)

    return _one_device(inc, spec, drift)


@incident_kind("stuck_sensor")
def stuck_sensor(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """One device repeats the reading it took when the incident began (a fault, not an event)."""
    spec = metric_for(inc, w)
    held: list[float] = []

    def stuck(el: timedelta, v: float, _: random.Random) -> float:
        if not held:
            held.append(v)
        return held[0]

    return _one_device(inc, spec, stuck)


@incident_kind("seasonal_break")
def seasonal_break(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """One device loses `intensity` × its daily rhythm: values stay in range, the profile is gone."""
    spec = metric_for(inc, w, prefer=RHYTHMIC)
    profile = daily_profile(spec)
    ramp = min(timedelta(minutes=30), inc.duration)

    def flattened(el: timedelta, v: float, _: random.Random) -> float:
        return v - inc.intensity * min(1.0, el / ramp) * profile(inc.start + el)

    return _one_device(inc, spec, flattened)


# ----------------------------------------------------------------------------- report shapes


@incident_kind("hotline_surge")
def hotline_surge(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """12345 calls of the first expected category surge in the street: ~10 × intensity in the
    first hour, 25 % fewer each hour after."""
    return Effects(drafts=surge_calls(inc, w, rng, inc.expected_categories[0], 10 * inc.intensity, 0.75))


@incident_kind("police_burst")
def police_burst(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """A tight cluster of 110 reports: ~7 × intensity (at least 4) within 250 m of one point and
    within 20 minutes of the start."""
    code = police_code(inc, w) or "0200"
    grids = w.grids.get(inc.street) or []
    lon0, lat0 = (rng.choice(grids) if grids else w.index.get(inc.street)).centroid  # type: ignore[union-attr]
    window = min(timedelta(minutes=20), inc.duration)
    district = w.district(inc.street).name
    what = BURST_ADDRESS.get(code, "发生警情")
    road = w.road(inc.street)
    number = rng.randrange(1, 300)
    priority = POLICE_TYPES.get(code, (1, 2))[1]
    fx = Effects()
    for _ in range(max(4, poisson(rng, 7 * inc.intensity))):
        at = inc.start + timedelta(seconds=int(window.total_seconds() * rng.random()))
        radius, angle = 0.25 * math.sqrt(rng.random()), 2 * math.pi * rng.random()
        lon, lat = offset_point(lon0, lat0, radius * math.cos(angle), radius * math.sin(angle))
        draft = w.police(rng, at, inc.street, code, f"{district}{road}{number}号附近{what}", priority, inc.id)
        draft.fields["lon"], draft.fields["lat"] = lon, lat
        fx.drafts.append(draft)
    return fx


@incident_kind("multi_source")
def multi_source(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """Sensor, hotline and 110 together: every device of the category's metric in the street moves
    60 % × intensity of the way to its limit (below it), calls surge, and a few 110 reports come in."""
    category = inc.expected_categories[0]
    spec = metric_for(inc, w)
    direction, distance = towards_limit(spec)
    change = direction * 0.6 * distance * inc.intensity
    ramp, recover = timedelta(minutes=15), min(timedelta(minutes=30), inc.duration / 4)

    def moved(el: timedelta, v: float, r: random.Random) -> float:
        return v + change * envelope(el, inc.duration, ramp, recover) * (1 + r.gauss(0, 0.05))

    fx = Effects(sensors=[_device_effect(inc, spec.metric, moved, None)], requires=[spec.metric])
    fx.drafts += surge_calls(inc, w, rng, category, 8 * inc.intensity, 0.6)
    code = police_code(inc, w)
    if code is not None:
        district, road = w.district(inc.street).name, w.road(inc.street)
        what = BURST_ADDRESS.get(code, "发生警情")
        hi = max(1.0, min(90.0, inc.duration.total_seconds() / 60 - 1))
        for _ in range(max(2, poisson(rng, 3 * inc.intensity))):
            at = inc.start + timedelta(seconds=int(60 * rng.uniform(min(10.0, hi), hi)))
            fx.drafts.append(w.police(rng, at, inc.street, code, f"{district}{road}{what}", None, inc.id))
    return fx

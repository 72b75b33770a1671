"""The built-in incident kinds and their registry.

An incident kind is a function registered with `@incident_kind(name)` under its scenario `kind`
name; it returns the hotline / 110 records the incident causes and how it changes sensor
readings. More kinds register in `incidents_extra.py`; `generate.INCIDENT_KINDS` has them all.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from riskwatch.simulator.scenario import Incident
from riskwatch.simulator.writer import (
    ASK,
    CROSS_ROADS,
    CST,
    Effects,
    IncidentFn,
    SensorEffect,
    Writer,
    envelope,
    poisson,
)

INCIDENT_KINDS: dict[str, IncidentFn] = {}


def incident_kind(name: str) -> Callable[[IncidentFn], IncidentFn]:
    """Register an incident kind's effect function under its scenario `kind` name."""

    def register(fn: IncidentFn) -> IncidentFn:
        INCIDENT_KINDS[name] = fn
        return fn

    return register


def _when(at: datetime) -> str:
    hour = at.astimezone(CST).hour
    period = "凌晨" if hour < 6 else "早上" if hour < 9 else "上午" if hour < 12 else "中午" if hour < 14 else (
        "下午" if hour < 18 else "晚上")
    return f"从{period}{hour if hour <= 12 else hour - 12}点多开始"


def _calls(rng: random.Random, inc: Incident, first_hour: float, decay: float, onset: timedelta) -> list[datetime]:
    """Times of reports that surge after onset and decay hour by hour."""
    times: list[datetime] = []
    hours = math.ceil(inc.duration / timedelta(hours=1))
    for h in range(hours):
        for _ in range(poisson(rng, first_hour * decay**h)):
            if h == 0:
                offset = onset + (timedelta(hours=1) - onset) * rng.random() ** 1.3
            else:
                offset = timedelta(hours=h) + timedelta(hours=1) * rng.random()
            if offset < inc.duration:
                times.append(inc.start + timedelta(seconds=int(offset.total_seconds())))
    return sorted(times)


def _spread(rng: random.Random, inc: Incident, n: int, lo_min: float, hi_min: float) -> list[datetime]:
    hi = min(hi_min, inc.duration.total_seconds() / 60 - 1)
    lo = min(lo_min, hi)
    return sorted(inc.start + timedelta(seconds=int(60 * rng.uniform(lo, hi))) for _ in range(n))


def _street_effect(inc: Incident, metric: str, fn: Callable[[timedelta, float, random.Random], float],
                   streets: frozenset[str] | None = None, evidence: bool = True) -> SensorEffect:
    return SensorEffect(metric, streets or frozenset({inc.street}), inc.start, inc.end, fn, inc.id if evidence else None)


@incident_kind("water_main_burst")
def water_main_burst(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """A burst main: pressure collapses within minutes, 'no water' calls surge, the road floods."""
    k = inc.intensity
    ramp, recover = timedelta(minutes=8), min(timedelta(minutes=30), inc.duration / 4)
    floor = max(0.02, 1 - 0.93 * min(k, 1.0))

    def pressure(el: timedelta, v: float, _: random.Random) -> float:
        return v * (1 - envelope(el, inc.duration, ramp, recover) * (1 - floor))

    def neighbour(el: timedelta, v: float, _: random.Random) -> float:
        return v * (1 - envelope(el, inc.duration, ramp, recover) * 0.08 * min(k, 1.0))

    def ponding(el: timedelta, v: float, r: random.Random) -> float:
        e = envelope(el, inc.duration, timedelta(minutes=20), recover)
        return v + e * max(0.0, 10 * k + r.gauss(0, 1))

    district = w.district(inc.street).code
    others = frozenset(s.code for s in w.streets if s.district_code == district and s.code != inc.street)
    fx = Effects(sensors=[_street_effect(inc, "water_pressure", pressure),
                          _street_effect(inc, "water_pressure", neighbour, others, evidence=False),
                          _street_effect(inc, "ponding_depth", ponding, evidence=False)],
                 requires=["water_pressure"])
    road, since = w.road(inc.street), _when(inc.start)
    texts = ("{place}{since}突然停水了，{ask}", "{place}没水了，整栋楼都没水，{ask}",
             "{place}水压低，水龙头只有一点点水，{ask}", "{road}路边水管爆裂了，水冒得很高，附近都停水了，{ask}",
             "{place}家里没水，听说是{road}爆管了，什么时候能来水？")
    for at in _calls(rng, inc, 26 * k, 0.45, timedelta(minutes=4)):
        place = w.place(rng, inc.street)[0]
        content = rng.choice(texts).format(place=place, since=since, ask=rng.choice(ASK), road=road)
        rtype = "咨询" if content.endswith("？") else rng.choice(("求助", "求助", "投诉"))
        fx.drafts.append(w.hotline(rng, at, inc.street, "water_supply", content, rtype, inc.id))
    district_name = w.district(inc.street).name
    for at in _spread(rng, inc, max(2, poisson(rng, 4 * k)), 12, 90):
        fx.drafts.append(w.police(rng, at, inc.street, "0302", f"{district_name}{road}路面大量冒水，道路积水", 2, inc.id))
    for at in _spread(rng, inc, max(1, poisson(rng, 2 * k)), 25, 150):
        fx.drafts.append(w.police(rng, at, inc.street, "0400", f"{district_name}{road}积水路段车辆追尾", 2, inc.id))
    return fx


@incident_kind("gas_leak")
def gas_leak(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """A gas leak: concentration climbs past the alarm limits, residents smell gas and call."""
    k = inc.intensity
    ramp, recover = timedelta(minutes=15), min(timedelta(minutes=20), inc.duration / 4)

    def gas(el: timedelta, v: float, r: random.Random) -> float:
        e = envelope(el, inc.duration, ramp, recover)
        return v + e * 60 * k * max(0.5, 1 + r.gauss(0, 0.12))

    fx = Effects(sensors=[_street_effect(inc, "gas_concentration", gas)], requires=["gas_concentration"])
    texts = ("{place}楼道里闻到很浓的燃气味，怀疑燃气泄漏，{ask}", "{place}附近有天然气味道，很刺鼻，{ask}",
             "{place}煤气味很重，担心有危险，{ask}")
    for at in _calls(rng, inc, 10 * k, 0.4, timedelta(minutes=8)):
        content = rng.choice(texts).format(place=w.place(rng, inc.street)[0], ask=rng.choice(ASK))
        fx.drafts.append(w.hotline(rng, at, inc.street, "gas_supply", content, "求助", inc.id))
    district_name = w.district(inc.street).name
    for at in _spread(rng, inc, max(2, poisson(rng, 3 * k)), 5, 60):
        place = w.place(rng, inc.street)[0].removeprefix(district_name)
        fx.drafts.append(w.police(rng, at, inc.street, "0301", f"{district_name}{place}楼道内燃气泄漏", 1, inc.id))
    return fx


@incident_kind("flooding")
def flooding(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """Road flooding after a downpour: ponding depth rises, cars stall, 110 and 12345 calls."""
    k = inc.intensity
    ramp, recover = timedelta(minutes=30), min(timedelta(minutes=60), inc.duration / 3)

    def depth(el: timedelta, v: float, r: random.Random) -> float:
        return v + envelope(el, inc.duration, ramp, recover) * max(0.0, 35 * k + r.gauss(0, 2))

    fx = Effects(sensors=[_street_effect(inc, "ponding_depth", depth)], requires=["ponding_depth"])
    road = w.road(inc.street)
    texts = ("{road}道路积水很深，车辆无法通行，{ask}", "{road}积水漫过路面，井盖被冲开了，{ask}",
             "{road}与{cross}交叉口积水严重，行人过不去，{ask}")
    for at in _calls(rng, inc, 12 * k, 0.5, timedelta(minutes=15)):
        content = rng.choice(texts).format(road=road, cross=rng.choice(CROSS_ROADS), ask=rng.choice(ASK))
        fx.drafts.append(w.hotline(rng, at, inc.street, "road_traffic", content, "求助", inc.id))
    district_name = w.district(inc.street).name
    for at in _spread(rng, inc, max(3, poisson(rng, 6 * k)), 15, 120):
        fx.drafts.append(w.police(rng, at, inc.street, "0302", f"{district_name}{road}道路积水严重", 2, inc.id))
    for at in _spread(rng, inc, max(1, poisson(rng, 3 * k)), 30, 150):
        fx.drafts.append(w.police(rng, at, inc.street, "0400", f"{district_name}{road}积水路段车辆追尾", 2, inc.id))
    for at in _spread(rng, inc, poisson(rng, 2 * k), 30, 150):
        fx.drafts.append(w.police(rng, at, inc.street, "0600", f"{district_name}{road}下穿通道车辆被困", 1, inc.id))
    return fx

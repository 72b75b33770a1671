"""Deterministic generator of raw upstream records for a scenario over the sample city.

`simulate(scenario)` returns every record with its event time, its arrival time (later than
the event time only when a gateway outage held it back), the category and street it was
generated for, and the incident (if any) that caused it, plus the ground truth. The same
scenario and seed always give the same records: every component draws from its own
`random.Random` seeded with the scenario seed and a component name.

Incident kinds are small functions registered with `@incident_kind`; each returns the extra
hotline / 110 records it causes and how it changes sensor readings.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from riskwatch.config.loader import CityConfig, ConfigError, load_city_config
from riskwatch.contracts import HotlineRecord, PoliceRecord, SensorRecord, Source

# Every incident kind: the built-in ones, and those incidents_extra registers when imported.
from riskwatch.simulator import incidents_extra  # noqa: F401 - registers its incident kinds
from riskwatch.simulator.incidents import INCIDENT_KINDS
from riskwatch.simulator.scenario import Incident, Scenario, scenario_problems
from riskwatch.simulator.stations import plan_stations, station_records
from riskwatch.simulator.writer import (
    CATEGORY_WEIGHTS,
    CST,
    DEVICE_PREFIX,
    HOTLINE_PROFILE,
    POLICE_PROFILE,
    POLICE_TYPES,
    POLICE_WEEKEND_FACTOR,
    SLOT,
    Device,
    IncidentTruth,
    RawRecord,
    SensorEffect,
    SimRecord,
    Simulation,
    Writer,
    _Draft,
    nominal_value,
    baseline_value,
    id_check_char,
    is_valid_resident_id,
    poisson,
)

__all__ = ["CST", "INCIDENT_KINDS", "RawRecord", "SimRecord", "Simulation", "Writer", "generate", "id_check_char",
           "is_valid_resident_id", "simulate"]


# ----------------------------------------------------------------------------- background


def _local_hour(at: datetime) -> tuple[int, bool]:
    local = at.astimezone(CST)
    return local.hour, local.weekday() >= 5


def _slots(scenario: Scenario) -> Iterator[datetime]:
    t = scenario.start
    while t < scenario.end:
        yield t
        t += SLOT


def _uniform_in_slot(rng: random.Random, slot: datetime, end: datetime) -> datetime | None:
    at = slot + timedelta(seconds=rng.randrange(int(SLOT.total_seconds())))
    return at if at < end else None


def background_hotline(scenario: Scenario, w: Writer) -> list[_Draft]:
    """Everyday 12345 orders with a daily and weekly rhythm."""
    rng = random.Random(f"{scenario.seed}:hotline")
    rate = scenario.background.hotline_per_hour * (SLOT / timedelta(hours=1))
    cats = [c for c in CATEGORY_WEIGHTS if c in w.categories]
    weights = [CATEGORY_WEIGHTS[c] for c in cats]
    drafts = []
    for slot in _slots(scenario):
        hour, weekend = _local_hour(slot)
        lam = rate * HOTLINE_PROFILE[hour] * (scenario.background.weekend_factor if weekend else 1.0)
        for _ in range(poisson(rng, lam)):
            at = _uniform_in_slot(rng, slot, scenario.end)
            if at is not None:
                drafts.append(w.hotline(rng, at, w.pick_street(rng).code, rng.choices(cats, weights)[0]))
    return drafts


def background_police(scenario: Scenario, w: Writer) -> list[_Draft]:
    """Everyday 110 incidents, busiest in the evening."""
    rng = random.Random(f"{scenario.seed}:police")
    rate = scenario.background.police_per_hour * (SLOT / timedelta(hours=1))
    codes = list(w.city.taxonomy.police_types)
    weights = [POLICE_TYPES.get(c, (2, 3))[0] for c in codes]
    drafts = []
    for slot in _slots(scenario):
        hour, weekend = _local_hour(slot)
        lam = rate * POLICE_PROFILE[hour] * (POLICE_WEEKEND_FACTOR if weekend else 1.0)
        for _ in range(poisson(rng, lam)):
            at = _uniform_in_slot(rng, slot, scenario.end)
            if at is not None:
                drafts.append(w.police(rng, at, w.pick_street(rng).code, rng.choices(codes, weights)[0]))
    return drafts


def plan_devices(scenario: Scenario, w: Writer, required: dict[str, set[str]]) -> list[Device]:
    """Devices per street and metric from the scenario, plus any an incident needs."""
    metrics = {m.metric: m for m in w.city.taxonomy.sensor_metrics}
    devices = []
    for street in w.streets:
        for metric in dict.fromkeys([*scenario.background.sensors, *required]):
            plan = scenario.background.sensors.get(metric)
            covered = plan is not None and (plan.streets == "all" or street.code in plan.streets)
            if metric not in metrics or not (covered or street.code in required.get(metric, ())):
                continue
            grids = w.grids.get(street.code) or [street]
            for i in range(1, (plan.per_street if covered and plan else 1) + 1):
                device_id = f"{DEVICE_PREFIX.get(metric, metric[:2].upper())}-{street.code}-{i:02d}"
                rng = random.Random(f"{scenario.seed}:device:{device_id}")
                grid = grids[(i - 1) % len(grids)]
                lon, lat = grid.centroid
                devices.append(Device(
                    device_id, metric, metrics[metric].unit, street.code,
                    grid.code if len(grid.code) == 15 else "", round(lon + rng.gauss(0, 0.0015), 6),
                    round(lat + rng.gauss(0, 0.0015), 6), nominal_value(metrics[metric], rng),
                    timedelta(seconds=rng.randrange(60)),
                ))
    return devices


def sensor_records(scenario: Scenario, w: Writer, devices: list[Device], effects: list[SensorEffect]) -> list[SimRecord]:
    """Every device's readings, with incident effects and gateway outages applied."""
    metrics = {m.metric: m for m in w.city.taxonomy.sensor_metrics}
    outages = scenario.realism.gateway_outages
    out: list[SimRecord] = []
    for dev in devices:
        rng, state = random.Random(f"{scenario.seed}:readings:{dev.device_id}"), {}
        spec = metrics[dev.metric]
        mine = [e for e in effects if e.metric == dev.metric and dev.street_code in e.streets
                and (e.devices is None or dev.device_id in e.devices)]
        held = [o for o in outages if o.street == dev.street_code and (not o.metrics or dev.metric in o.metrics)]
        decimals = 3 if spec.valid_max - spec.valid_min <= 10 else 1
        t = scenario.start.astimezone(CST) + dev.phase
        while t < scenario.end:
            value = baseline_value(dev, t, rng, state)
            incident = None
            for eff in mine:
                if eff.start <= t < eff.end:
                    value = eff.apply(t - eff.start, value, rng)
                    incident = incident or eff.incident
            value = round(min(spec.valid_max, max(spec.valid_min, value)), decimals)
            arrival = t
            for o in held:
                if o.start <= t < o.start + o.duration:
                    arrival = max(arrival, o.start + o.duration + timedelta(seconds=rng.randrange(5, 90)))
            rec = SensorRecord(device_id=dev.device_id, metric=dev.metric, value=value, unit=dev.unit, ts=t,
                               lat=dev.lat, lon=dev.lon, grid_code=dev.grid_code or None)
            out.append(SimRecord(Source.sensor, rec, t, arrival, spec.category, dev.street_code, incident))
            t += scenario.background.sensor_interval
    return out


# ----------------------------------------------------------------------------- assembly


def _ids(prefix: str, drafts: list[_Draft], key: str, rng: random.Random) -> None:
    base = rng.randrange(1, 800_000)
    per_day: dict[str, int] = {}
    for d in drafts:
        day = d.at.astimezone(CST).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        d.fields[key] = f"{prefix}{day}{base + per_day[day]:06d}"


def _finish(drafts: list[_Draft], source: Source, scenario: Scenario, city_code: str) -> list[SimRecord]:
    drafts.sort(key=lambda d: d.at)
    rng = random.Random(f"{scenario.name}:{scenario.seed}:ids:{source.value}")
    if source is Source.hotline:
        _ids("GD", drafts, "order_id", rng)
        model: type[HotlineRecord] | type[PoliceRecord] = HotlineRecord
    else:
        _ids(f"JJ{city_code}", drafts, "incident_id", rng)
        model = PoliceRecord
    out = []
    for d in drafts:
        at = d.at.astimezone(CST)
        d.fields["received_at" if source is Source.hotline else "reported_at"] = at
        out.append(SimRecord(source, model(**d.fields), at, at, d.category, d.street_code, d.incident))
    return out


def _truth(inc: Incident, w: Writer, records: list[SimRecord]) -> IncidentTruth:
    street, district = w.index.get(inc.street), w.district(inc.street)
    mine = [r for r in records if r.incident == inc.id]
    metrics = {m.metric: m for m in w.city.taxonomy.sensor_metrics}

    def beyond(r: SimRecord) -> bool:
        rec, spec = r.record, metrics.get(getattr(r.record, "metric", ""))
        assert isinstance(rec, SensorRecord)
        return spec is not None and ((spec.alarm_low is not None and rec.value < spec.alarm_low)
                                     or (spec.alarm_high is not None and rec.value > spec.alarm_high))

    first: dict[str, str | None] = {}
    for source in Source:
        hits = [r for r in mine if r.source is source and (source is not Source.sensor or beyond(r))]
        first[source.value] = min(hits, key=lambda r: r.event_time).event_time.isoformat() if hits else None
    return IncidentTruth(
        id=inc.id, kind=inc.kind, street=inc.street, street_name=street.name,  # type: ignore[union-attr]
        district_code=district.code, district_name=district.name,
        start=inc.start.astimezone(CST), end=inc.end.astimezone(CST), intensity=inc.intensity,
        expected_level=inc.expected_level.value if inc.expected_level else None,
        expected_categories=list(inc.expected_categories),
        records={s.value: sum(1 for r in mine if r.source is s) for s in Source},
        first_at=first, devices=sorted({r.key for r in mine if r.source is Source.sensor}),
    )


def simulate(scenario: Scenario, city: CityConfig | None = None) -> Simulation:
    """Generate every record of the scenario, in event-time order, with its ground truth."""
    city = city or load_city_config()
    problems = scenario_problems(scenario, city)
    if problems:
        raise ConfigError(f"scenario {scenario.name}: " + "; ".join(f"{f}: {m}" for f, m in problems))
    w = Writer(city)
    hotline, police = background_hotline(scenario, w), background_police(scenario, w)
    effects: list[SensorEffect] = []
    required: dict[str, set[str]] = {}
    for inc in scenario.incidents:
        fx = INCIDENT_KINDS[inc.kind](inc, w, random.Random(f"{scenario.seed}:incident:{inc.id}"))
        for d in fx.drafts:
            (hotline if d.source is Source.hotline else police).append(d)
        effects += fx.sensors
        for metric in fx.requires:
            required.setdefault(metric, set()).add(inc.street)
    devices = plan_devices(scenario, w, required)
    stations = plan_stations(scenario, w)  # none unless the scenario lists stations
    records = (_finish(hotline, Source.hotline, scenario, city.regions.city_code)
               + _finish(police, Source.police, scenario, city.regions.city_code)
               + sensor_records(scenario, w, devices, effects)
               + station_records(scenario, w, stations, effects))
    order = {s: i for i, s in enumerate(Source)}
    records.sort(key=lambda r: (r.event_time, order[r.source], r.key))
    truth = [_truth(inc, w, records) for inc in scenario.incidents]
    return Simulation(scenario, records, devices + [d for s in stations for d in s.devices], truth)


def generate(scenario: Scenario, city: CityConfig | None = None) -> Iterator[tuple[Source, RawRecord, datetime]]:
    """`(source, record, event_time)` for every record of the scenario, in event-time order."""
    for rec in simulate(scenario, city).records:
        yield rec.source, rec.record, rec.event_time

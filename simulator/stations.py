"""Stations in the simulator: correlated channels of one site, and station faults.

Only scenarios that list stations (`stations:` in the scenario, ids of `stations.yaml`) get them,
so every other scenario's records stay as they were. A station's channels are read together (one
phase for all, as one RTU samples them) and move together through the station's load — the daily
water demand for a pump station, the cooking peaks for a gas regulator station — with a slow
common wander and each channel's own noise; a motor's temperature follows the load with a lag:

    value = base + gain × load + noise

A `station_fault` (pump cavitation, a regulator's pilot valve wearing) shifts several channels
together, each by less than the way to its own alarm limit (`taxonomy.yaml`) — the single-sensor
limits stay silent, the joint view sees the station leave its usual relation between channels.
Residents notice some of it later: a few calls about low water pressure (or an unsteady flame).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta

from riskwatch.config.stations import Station
from riskwatch.contracts import SensorRecord, Source
from riskwatch.simulator.incidents import incident_kind
from riskwatch.simulator.scenario import Incident, Scenario
from riskwatch.simulator.writer import (
    ASK,
    CST,
    Device,
    Effects,
    SensorEffect,
    SimRecord,
    Writer,
    envelope,
    poisson,
)


@dataclass(frozen=True)
class ChannelProfile:
    """How a metric behaves at a station: `base + gain × load`, Gaussian noise, and a lag behind the load."""

    base: float
    gain: float
    noise: float
    lag: timedelta = timedelta(0)


#: Station metrics of `taxonomy.yaml`; a metric not listed here reads `nominal` plus 2 % noise.
PROFILES: dict[str, ChannelProfile] = {
    "pump_inlet_pressure": ChannelProfile(0.22, -0.03, 0.003),  # suction sags as the pump draws more
    "pump_outlet_pressure": ChannelProfile(0.40, 0.03, 0.004),
    "pump_flow": ChannelProfile(500.0, 1100.0, 20.0),
    "pump_current": ChannelProfile(70.0, 90.0, 2.5),
    "pump_vibration": ChannelProfile(2.0, 0.6, 0.12),
    "motor_temperature": ChannelProfile(50.0, 15.0, 0.5, lag=timedelta(minutes=45)),
    "gas_inlet_pressure": ChannelProfile(0.30, -0.02, 0.003),
    "gas_outlet_pressure": ChannelProfile(2.85, -0.08, 0.02),
    "gas_flow": ChannelProfile(150.0, 1200.0, 15.0),
    "gas_concentration": ChannelProfile(1.0, 0.0, 0.15),
}

#: Per station category: how much a fault at intensity 1.0 moves each metric (in its unit).
FAULTS: dict[str, dict[str, float]] = {
    # Cavitation (a suction valve half closed, a clogged strainer): suction and delivery pressure
    # sag, flow and current drop, the pump shakes and the motor warms.
    "water_supply": {
        "pump_inlet_pressure": -0.065,
        "pump_outlet_pressure": -0.05,
        "pump_flow": -150.0,
        "pump_current": -12.0,
        "pump_vibration": 2.2,
        "motor_temperature": 5.0,
    },
    # A regulator's worn pilot valve: outlet pressure creeps up, a little gas escapes in the room.
    "gas_supply": {
        "gas_outlet_pressure": 0.35,
        "gas_inlet_pressure": 0.01,
        "gas_flow": -40.0,
        "gas_concentration": 3.0,
    },
}

FAULT_CALLS: dict[str, tuple[float, tuple[str, ...]]] = {
    "water_supply": (
        6.0,
        (
            "{place}水压突然变小了，楼上水龙头出水很小，{ask}",
            "{place}自来水水压低，热水器都打不着火，{ask}",
            "{place}高层水压小，洗澡都没法洗，{ask}",
        ),
    ),
    "gas_supply": (3.0, ("{place}燃气灶火苗忽大忽小，{ask}", "{place}天然气火特别大，感觉气压不正常，{ask}")),
}


def _bump(h: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((h - centre) / width) ** 2)


def station_load(category: str, hour: float) -> float:
    """The station's load in [0, 1] at a local hour: water demand, or gas for cooking and heating."""
    if category == "water_supply":
        return min(1.0, 0.25 + 0.6 * _bump(hour, 7.5, 1.5) + 0.35 * _bump(hour, 12.0, 1.5) + 0.55 * _bump(hour, 19.5, 2.0))
    if category == "gas_supply":
        return min(1.0, 0.1 + 0.5 * _bump(hour, 7.0, 1.0) + 0.8 * _bump(hour, 11.5, 1.0) + 0.9 * _bump(hour, 18.0, 1.2))
    return 0.5


@dataclass(frozen=True)
class StationDevices:
    """One simulated station: its config and a device per channel, all read at one phase."""

    station: Station
    devices: tuple[Device, ...]


def plan_stations(scenario: Scenario, w: Writer) -> list[StationDevices]:
    """The devices of every station the scenario lists, placed at the station's grid cell."""
    out = []
    for station_id in scenario.stations:
        station = w.city.stations.get(station_id)
        assert station is not None  # scenario_problems checked the id
        rng = random.Random(f"{scenario.seed}:station:{station.id}")
        grids = w.grids.get(station.street) or [w.index.get(station.street)]
        grid = grids[rng.randrange(len(grids))]
        lon, lat = grid.centroid  # type: ignore[union-attr]
        lon, lat = round(lon + rng.gauss(0, 0.001), 6), round(lat + rng.gauss(0, 0.001), 6)
        phase = timedelta(seconds=rng.randrange(60))
        devices = []
        for channel in station.channels:
            spec = w.city.taxonomy.metric(channel.metric)
            assert spec is not None  # the loader checked the metric
            profile = PROFILES.get(channel.metric)
            nominal = profile.base if profile else spec.valid_min + 0.25 * (spec.valid_max - spec.valid_min)
            grid_code = grid.code if len(grid.code) == 15 else ""  # type: ignore[union-attr]
            devices.append(Device(channel.device, channel.metric, spec.unit, station.street, grid_code, lon, lat, nominal, phase))
        out.append(StationDevices(station, tuple(devices)))
    return out


def station_records(
    scenario: Scenario, w: Writer, stations: list[StationDevices], effects: list[SensorEffect]
) -> list[SimRecord]:
    """Every station channel's readings, every `sensor_interval`, with station faults applied."""
    out: list[SimRecord] = []
    step = scenario.background.sensor_interval
    for planned in stations:
        station = planned.station
        rng = random.Random(f"{scenario.seed}:station-readings:{station.id}")
        wander, lagged = 0.0, {}
        t = scenario.start.astimezone(CST) + planned.devices[0].phase
        while t < scenario.end:
            local = t.astimezone(CST)
            wander = 0.97 * wander + rng.gauss(0, 0.01)
            load = max(0.0, station_load(station.category, local.hour + local.minute / 60) + wander)
            for dev in planned.devices:
                spec = w.city.taxonomy.metric(dev.metric)
                assert spec is not None
                profile = PROFILES.get(dev.metric)
                if profile is None:
                    value = dev.nominal * (1 + rng.gauss(0, 0.02))
                else:
                    felt = load
                    if profile.lag > timedelta(0):
                        previous = lagged.get(dev.device_id, load)
                        felt = lagged[dev.device_id] = previous + (load - previous) * min(1.0, step / profile.lag)
                    value = profile.base + profile.gain * felt + rng.gauss(0, profile.noise)
                incident = None
                for eff in effects:
                    if (
                        eff.metric == dev.metric
                        and eff.devices is not None
                        and dev.device_id in eff.devices
                        and eff.start <= t < eff.end
                    ):
                        value = eff.apply(t - eff.start, value, rng)
                        incident = incident or eff.incident
                decimals = 3 if spec.valid_max - spec.valid_min <= 10 else 1
                value = round(min(spec.valid_max, max(spec.valid_min, value)), decimals)
                rec = SensorRecord(
                    device_id=dev.device_id,
                    metric=dev.metric,
                    value=value,
                    unit=dev.unit,
                    ts=t,
                    lat=dev.lat,
                    lon=dev.lon,
                    grid_code=dev.grid_code or None,
                )
                out.append(SimRecord(Source.sensor, rec, t, t, spec.category, dev.street_code, incident))
            t += step
    return out


@incident_kind("station_fault")
def station_fault(inc: Incident, w: Writer, rng: random.Random) -> Effects:
    """Several channels of the incident's station shift together, each within its alarm limits."""
    station = w.city.stations.get(inc.station or "")
    assert station is not None  # scenario_problems checked it
    k = inc.intensity
    ramp, recover = timedelta(minutes=20), min(timedelta(minutes=15), inc.duration / 4)
    shifts = FAULTS.get(station.category, {})
    fx = Effects()
    for channel in station.channels:
        shift = shifts.get(channel.metric)
        if shift is None:
            continue

        def moved(el: timedelta, v: float, r: random.Random, shift: float = shift) -> float:
            return v + envelope(el, inc.duration, ramp, recover) * shift * k * (1 + r.gauss(0, 0.05))

        fx.sensors.append(
            SensorEffect(
                channel.metric,
                frozenset({station.street}),
                inc.start,
                inc.end,
                moved,
                inc.id,
                devices=frozenset({channel.device}),
            )
        )
    per_hour, texts = FAULT_CALLS.get(station.category, (0.0, ()))
    onset = timedelta(minutes=25)
    for h in range(math.ceil(inc.duration / timedelta(hours=1))):
        for _ in range(poisson(rng, per_hour * k * 0.6**h)):
            start = onset if h == 0 else timedelta(hours=h)
            offset = start + (timedelta(hours=h + 1) - start) * rng.random()
            if offset < inc.duration:
                at = inc.start + timedelta(seconds=int(offset.total_seconds()))
                content = rng.choice(texts).format(place=w.place(rng, station.street)[0], ask=rng.choice(ASK))
                fx.drafts.append(w.hotline(rng, at, station.street, station.category, content, "求助", inc.id))
    return fx

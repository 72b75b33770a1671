"""Ordinary days before a scenario, to warm detectors up before its live part.

Detectors with long memories need history before they judge: Prophet count trends a week of
hourly counts, the burst detector half a day of background rate, a PyOD model of a sensor a
training window of its readings (two days in the shipped config). The history is the live
scenario's own background — same rates, same devices, another seed — over the days before it,
with no incidents and no upstream faults: 12345 and 110 reports over `days`, sensor readings
over the last `sensor_days` only (they are most of the volume, and their detectors need less).
"""

from __future__ import annotations

from datetime import timedelta

from riskwatch.config.loader import CityConfig
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import Realism, Scenario
from riskwatch.simulator.sinks import Outgoing, encode


def history_scenario(live: Scenario, days: int, *, reports: bool = True, sensors: bool = True) -> Scenario:
    """`days` of the live scenario's background ending where it starts, with no incidents."""
    if days < 1:
        raise ValueError(f"history needs at least 1 day, got {days}")
    updates: dict[str, object] = {}
    if not sensors:
        updates["sensors"] = {}
    if not reports:
        updates |= {"hotline_per_hour": 0.0, "police_per_hour": 0.0}
    return live.model_copy(
        update={
            "name": f"{live.name}-history",
            "description": f"{days} ordinary days before {live.name}",
            "start": live.start - timedelta(days=days),
            "duration": timedelta(days=days),
            # A device's usual level comes from the seed and its id: sensor history keeps the live
            # seed, so each device is the same device before and during the scenario. Reports take
            # other draws (and so other ids) than the live scenario's.
            "seed": live.seed if not reports else live.seed + 1,
            "background": live.background.model_copy(update=updates),
            "realism": Realism(),
            "incidents": [],
        }
    )


def history_messages(live: Scenario, city: CityConfig, days: int, sensor_days: int) -> list[Outgoing]:
    """Every raw message of the history, in arrival order: reports over `days`, sensor
    readings over the last `sensor_days` (0 for none)."""
    if not 0 <= sensor_days <= days:
        raise ValueError(f"sensor_days must be between 0 and days ({days}), got {sensor_days}")
    messages = encode(simulate(history_scenario(live, days, sensors=False), city))
    if sensor_days:
        messages += encode(simulate(history_scenario(live, sensor_days, reports=False), city))
    messages.sort(key=lambda item: item.arrival_time)
    return messages

"""How many sensors one worker holds: events/s and memory of the detect stage at N sensors.

Sizing a city as an operator would: N network sensors (water pressure, gas concentration,
ponding depth, PM2.5 in turn, spread over the sample city's streets) each report every
5 minutes with the simulator's daily rhythms and noise, for `--days` simulated days: long
enough (default 2.2) that every per-series window is full (the PyOD training window of
`sensor_anomaly` is 2 days of readings). The readings go, in time order, through the
worker's detect stage with the shipped `detectors.yaml` (event-time gate and every default
detector), in this one process.

Printed: events/s over the whole run and over its last simulated day (steady state, windows
full), resident memory before the first reading, at the end, and its peak, bytes per sensor
((end - start) / N), and the pickled state per sensor (what a partition snapshot carries).
Memory is the process's RSS (`/proc/self/status`), so the figures include the allocator's
slack, as an operator's `docker stats` would.

    python benchmarks/sensor_scale.py --sensors 1000
    python benchmarks/sensor_scale.py --sensors 10000 --days 2.2
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from riskwatch.config.loader import load_city_config
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Event, Source
from riskwatch.simulator.writer import Device, baseline_value, nominal_value
from riskwatch.streams.pipeline import DetectStage

METRICS = ("water_pressure", "gas_concentration", "ponding_depth", "pm25")
PREFIX = {"water_pressure": "WP", "gas_concentration": "GC", "ponding_depth": "PD", "pm25": "PM"}
INTERVAL = timedelta(minutes=5)
START = datetime(2026, 11, 2, tzinfo=UTC)


@dataclass(frozen=True)
class ScaleResult:
    sensors: int
    days: float
    events: int
    signals: int
    seconds: float
    events_per_s: float
    last_day_events_per_s: float
    rss_start_mb: float
    rss_end_mb: float
    rss_peak_mb: float
    bytes_per_sensor: float
    state_bytes_per_sensor: float


def _status_kb(field: str) -> int:
    """A `/proc/self/status` figure in kB (VmRSS: resident now, VmHWM: peak resident)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def make_devices(n: int, seed: int) -> list[tuple[Device, str, str]]:
    """`n` devices on the city's streets, metrics in turn: (device, district code, category)."""
    city = load_city_config()
    regions = RegionIndex(city.regions)
    streets = regions.streets
    metrics = {m.metric: m for m in city.taxonomy.sensor_metrics}
    devices = []
    for i in range(n):
        metric = metrics[METRICS[i % len(METRICS)]]
        street = streets[(i // len(METRICS)) % len(streets)]
        rng = random.Random(f"{seed}:{i}")
        device = Device(
            device_id=f"{PREFIX[metric.metric]}-{street.code}-{i:05d}",
            metric=metric.metric,
            unit=metric.unit,
            street_code=street.code,
            grid_code="",
            lon=street.centroid[0],
            lat=street.centroid[1],
            nominal=nominal_value(metric, rng),
            phase=timedelta(seconds=rng.randrange(60)),
        )
        devices.append((device, street.district_code, metric.category))
    return devices


def _load_models() -> None:
    """Import and exercise the PyOD path once, so its libraries are not counted per sensor."""
    import numpy as np

    from riskwatch.detectors.series.registry import make_series_detector

    ts = [START + i * INTERVAL for i in range(300)]
    make_series_detector("ecod").score_series(ts, np.sin(np.arange(300) / 10.0))


def run(sensors: int, days: float, seed: int = 0) -> ScaleResult:
    _load_models()
    stage = DetectStage(load_city_config())
    devices = make_devices(sensors, seed)
    rngs = [random.Random(f"{seed}:readings:{d.device_id}") for d, _, _ in devices]
    states: list[dict[str, float]] = [{} for _ in devices]
    steps = int(days * 86_400 / INTERVAL.total_seconds())
    last_day_from = max(0, steps - int(86_400 / INTERVAL.total_seconds()))
    rss_start = _status_kb("VmRSS")
    events = signals = 0
    began = time.perf_counter()
    last_day_began, last_day_events = began, 0
    for step in range(steps):
        if step == last_day_from:
            last_day_began, last_day_events = time.perf_counter(), events
        at = START + step * INTERVAL
        for (device, district, category), rng, state in zip(devices, rngs, states, strict=True):
            ts = at + device.phase
            value = round(baseline_value(device, ts, rng, state), 3)
            event = Event(
                event_id=f"sensor:{device.device_id}:{step}",
                source=Source.sensor,
                occurred_at=ts,
                region_code=device.street_code,
                district_code=district,
                street_code=device.street_code,
                category=category,
                metric=device.metric,
                value=value,
                unit=device.unit,
                device_id=device.device_id,
                raw_partition=0,
            )
            found, _ = stage(event)
            signals += len(found)
            events += 1
    ended = time.perf_counter()
    rss_end, rss_peak = _status_kb("VmRSS"), _status_kb("VmHWM")  # before pickling the state below
    state_bytes = sum(len(pickle.dumps(d.get_state(), protocol=pickle.HIGHEST_PROTOCOL)) for d in stage.detectors)
    return ScaleResult(
        sensors=sensors,
        days=days,
        events=events,
        signals=signals,
        seconds=round(ended - began, 1),
        events_per_s=round(events / (ended - began)),
        last_day_events_per_s=round((events - last_day_events) / max(ended - last_day_began, 1e-9)),
        rss_start_mb=round(rss_start / 1024, 1),
        rss_end_mb=round(rss_end / 1024, 1),
        rss_peak_mb=round(rss_peak / 1024, 1),
        bytes_per_sensor=round((rss_end - rss_start) * 1024 / sensors),
        state_bytes_per_sensor=round(state_bytes / sensors),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sensors", type=int, default=1000, help="sensors (devices), each reading every 5 minutes")
    parser.add_argument("--days", type=float, default=2.2, help="simulated days (2 fill the training windows)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = run(args.sensors, args.days, args.seed)
    for name, value in asdict(result).items():
        print(f"{name:>24}: {value}")
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

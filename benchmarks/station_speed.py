"""Rows per second of a station detector on the pipeline's path: `update()` one row at a time.

A synthetic station of 6 channels (a random walk under noise, one sustained fault) and 6,000
rows, at the detector's default params; fits included, imports not. The best of a few repeats,
since the figure depends on whatever else the machine runs (report it with the load).

Usage::

    python benchmarks/station_speed.py [-d station] [--params JSON] [--rows 6000] [--channels 6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from riskwatch.detectors.station.registry import make_station_detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--detector", default="station")
    parser.add_argument("--params", type=json.loads, default={}, help="detector params as JSON, e.g. '{\"windows\": [10, 60]}'")
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, c = args.rows, args.channels
    rows = rng.normal(size=(n, c)).cumsum(axis=0) * 0.01 + rng.normal(size=(n, c))
    rows[n // 2 : n // 2 + 300, c // 2] += 5.0
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    stamps = [t0 + timedelta(minutes=5 * i) for i in range(n)]
    channels = [f"c{i}" for i in range(c)]
    best, checksum = 0.0, 0.0
    for _ in range(args.repeat):
        det = make_station_detector(args.detector, channels, **args.params)
        start = time.perf_counter()
        scores = [det.update(t, r).score for t, r in zip(stamps, rows, strict=True)]
        best = max(best, n / (time.perf_counter() - start))
        checksum = float(np.sum(scores))
    print(f"{args.detector}: {best:,.0f} rows/s (update, {c} channels, {n} rows; score checksum {checksum:.15g})")


if __name__ == "__main__":
    main()

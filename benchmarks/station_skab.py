"""SKAB outlier detection with the station detectors: F1, FAR, MAR and rows/s per model.

The SKAB protocol (Skoltech Anomaly Benchmark): in each file the first 400 rows are training
(normal) and every later row is test; F1 is point-wise over the test rows of all files
concatenated; FAR = FP / (FP + TN), MAR = FN / (FN + TP). A station detector with its default
warm-up of 400 rows follows it by itself: it fits on the first 400 rows it sees. `is_anomaly` is
the detector's own decision; labels are used only to count.

Parameters are decided on ``valve1`` + ``valve2`` (dev); ``other`` is reported apart as held out.
rows/s is `score_frame` over each whole file (fits included, imports and the first call's warm-up
not), on whatever else the machine runs at the time.

Usage::

    python benchmarks/station_skab.py [--data DIR] [-d station -d station_ecod ...] [-p refit_every=200 ...] [--per-file]

DIR defaults to ``../shared/data/skab`` beside the repository (files ``<group>/<n>.csv``,
``;``-separated, a ``datetime`` column, the channels, then ``anomaly`` and ``changepoint``).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from riskwatch.detectors.station.registry import known_station_detectors, make_station_detector

TRAIN_ROWS = 400
GROUPS = {"dev": ("valve1", "valve2"), "other": ("other",)}
DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "skab"


@dataclass(frozen=True)
class SkabFile:
    name: str
    channels: list[str]
    stamps: list[datetime]
    rows: np.ndarray
    anomaly: np.ndarray


def read_skab(path: Path) -> SkabFile:
    """One SKAB file: its channels (every column between `datetime` and `anomaly`), rows and labels."""
    with path.open(newline="") as handle:
        table = list(csv.reader(handle, delimiter=";"))
    header = table[0]
    first, last = header.index("datetime") + 1, header.index("anomaly")
    body = table[1:]
    return SkabFile(
        name=f"{path.parent.name}/{path.name}",
        channels=header[first:last],
        stamps=[datetime.fromisoformat(r[0]) for r in body],
        rows=np.array([[float(v) for v in r[first:last]] for r in body]),
        anomaly=np.array([float(r[last]) > 0 for r in body]),
    )


def load(data: Path, groups: tuple[str, ...]) -> list[SkabFile]:
    paths = sorted((p for g in groups for p in (data / g).glob("*.csv")), key=lambda p: (p.parent.name, int(p.stem)))
    return [read_skab(p) for p in paths]


def counts(truth: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """TP, FP, FN, TN."""
    return np.array([(truth & flags).sum(), (~truth & flags).sum(), (truth & ~flags).sum(), (~truth & ~flags).sum()])


def metrics(c: np.ndarray) -> tuple[float, float, float]:
    """F1, FAR, MAR from TP, FP, FN, TN."""
    tp, fp, fn, tn = (float(v) for v in c)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    return f1, fp / (fp + tn) if fp + tn else 0.0, fn / (fn + tp) if fn + tp else 0.0


def run(name: str, files: list[SkabFile], params: dict[str, Any], per_file: bool = False) -> tuple[np.ndarray, int, float]:
    """Counts over the test rows of all files, rows scored and seconds spent."""
    total = np.zeros(4, dtype=int)
    rows = 0
    seconds = 0.0
    for f in files:
        det = make_station_detector(name, f.channels, **params)
        start = time.perf_counter()
        _, flags = det.score_frame(f.stamps, f.rows)
        seconds += time.perf_counter() - start
        rows += f.rows.shape[0]
        c = counts(f.anomaly[TRAIN_ROWS:], flags[TRAIN_ROWS:])
        total += c
        if per_file:
            print(f"  {f.name:<14} {_line(metrics(c))}")
    return total, rows, seconds


def _line(m: tuple[float, float, float]) -> str:
    f1, far, mar = m
    return f"{f1:6.3f} {100 * far:6.1f}% {100 * mar:6.1f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SKAB data folder (valve1/, valve2/, other/)")
    parser.add_argument("-d", "--detector", action="append", help="registered station detector (repeatable)")
    parser.add_argument("-p", "--param", action="append", default=[], help="NAME=YAML_VALUE for every detector (repeatable)")
    parser.add_argument("--per-file", action="store_true", help="F1/FAR/MAR of every file too")
    args = parser.parse_args(argv)
    if not (args.data / "valve1").is_dir():
        print(f"no SKAB data in {args.data}", file=sys.stderr)
        return 2
    names = args.detector or sorted(known_station_detectors())
    params = {k: yaml.safe_load(v) for k, _, v in (p.partition("=") for p in args.param)}
    files = {group: load(args.data, dirs) for group, dirs in GROUPS.items()}
    warm = files["dev"][0]
    print(f"{'detector':<16} {'files':<6} {'F1':>6} {'FAR':>7} {'MAR':>7} {'rows/s':>10}")
    for name in names:
        make_station_detector(name, warm.channels, **params).score_frame(warm.stamps, warm.rows)  # imports, numba
        both = np.zeros(4, dtype=int)
        rows = 0
        seconds = 0.0
        for group, group_files in files.items():
            c, n, s = run(name, group_files, params, args.per_file)
            both += c
            rows += n
            seconds += s
            print(f"{name:<16} {group:<6} {_line(metrics(c))}")
        print(f"{name:<16} {'all':<6} {_line(metrics(both))} {rows / seconds:>10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

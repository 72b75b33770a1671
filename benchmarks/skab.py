"""SKAB (Skoltech Anomaly Benchmark): registered detectors on real labelled pump-testbed data.

SKAB is 34 runs of a water-circulation testbed (``valve1/``, ``valve2/``, ``other/``), one row per
second, 8 sensor channels, a 0/1 ``anomaly`` label per row and a 0/1 ``changepoint`` label. Its
leaderboard methods train on the first 400 rows of each file and are scored on every later row
(the test part). Here detectors are streaming and causal: each file is scored from its first
row, the first 400 rows serve as warm-up and are not scored. ``anomaly-free/anomaly-free.csv``
(normal only) is not used at all.

Families (``--station`` / ``--univariate``, both by default):

* **station** (multivariate) detectors from ``riskwatch.detectors.station.registry``: a fresh
  detector per file over its 8 channels; ``is_anomaly`` is the detector's own flag (no label
  picks a threshold).
* **univariate** series detectors from ``riskwatch.detectors.series.registry``: a fresh detector
  per file and channel. They have no threshold of their own, so each channel is reported at the
  **oracle** threshold (the best single threshold over all files, chosen with the labels: an
  upper bound) and at the fixed threshold 0.95 (``series_anomaly``'s default in config). A
  ``max`` row fuses the channels by the largest score per row (what a station built from
  univariate detectors without calibration would see), again at the oracle threshold.

Metrics (see ``skab_metrics.py`` for the exact definitions followed):

* SKAB's outlier-detection figures on the test parts of all files concatenated: point-wise
  **F1**, **FAR** and **MAR** (per cent);
* SKAB's changepoint-detection **NAB** score (standard, low FP, low FN) with a 60 s window to the
  right of each labelled changepoint; detected changepoints are the starts of flagged runs
  (``NAB-tr`` is SKAB's own convention, run starts and ends, for comparison with its table);
* TSB-AD's **VUS-PR** and **R-AUC-PR** of the scores (buffer up to ``--vus-window`` rows) on the
  concatenated test parts;
* **points/s**: rows × channels scored per CPU second of the detector (under whatever load the
  machine has).

Reference rows: ``never`` (flags nothing), ``always`` (flags every row) and ``random`` (uniform
scores, seeded). About 54 % of test rows are anomalous, so ``always`` already has F1 ≈ 0.7: any
oracle-threshold F1 is at least that, and ``random`` shows the floor of VUS-PR and ``NAB*``.

Data: ``$RISKWATCH_SKAB_DIR`` or ``<repository>/../shared/data/skab``. Usage::

    python benchmarks/skab.py                          # every registered detector
    python benchmarks/skab.py -d default -d ecod       # only these (univariate or station names)
    python benchmarks/skab.py --station                # station detectors only
    python benchmarks/skab.py --files 4 --no-vus       # a quick look
    python benchmarks/skab.py --json out.json          # also the figures as JSON
    python benchmarks/skab.py -d knn --params '{"warmup": 400}'   # univariate detectors with these parameters
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skab_metrics as m

from riskwatch.detectors.series.registry import known_series_detectors, make_series_detector
from riskwatch.detectors.station.registry import known_station_detectors, make_station_detector

DATA_ENV = "RISKWATCH_SKAB_DIR"
FOLDERS = ("valve1", "valve2", "other")
TRAIN_ROWS = 400
#: Fixed (label-free) thresholds for univariate detectors, each from the detector's own documentation:
#: `default`/`robust` map surprise S to S / (S + scale), and S = 10 (score 0.55) is exceeded on fewer
#: than 0.1 % of points of noise of any shape; the PyOD detectors' calibrated scores use 0.999 in the
#: shipped config ("beyond everything in the training window, by a margin"); `ensemble` has no
#: documented threshold and gets its members' 0.999, which its averaged score rarely reaches.
#: Anything else: 0.95, `series_anomaly`'s default threshold.
FIXED_THRESHOLDS: dict[str, float] = {"default": 0.55, "robust": 0.55}
PYOD_FIXED_THRESHOLD = 0.999
FALLBACK_THRESHOLD = 0.95
NAB_SWEEP = 201
NAB_WINDOW_S = 60.0
VUS_WINDOW = 60


def fixed_threshold(name: str) -> float:
    """The documented label-free threshold of a univariate detector (see `FIXED_THRESHOLDS`)."""
    if name in FIXED_THRESHOLDS:
        return FIXED_THRESHOLDS[name]
    target = known_series_detectors().get(name, "")
    return PYOD_FIXED_THRESHOLD if target.startswith("riskwatch.detectors.series.pyod_models:") else FALLBACK_THRESHOLD


def default_data_dir() -> Path:
    """``$RISKWATCH_SKAB_DIR``, else the shared checkout beside the repository."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "skab"


# --------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True)
class SkabFile:
    """One SKAB run: timestamps, the channel matrix (rows × channels) and the two label columns."""

    name: str
    timestamps: list[datetime]
    seconds: np.ndarray
    values: np.ndarray
    channels: tuple[str, ...]
    anomaly: np.ndarray
    changepoint: np.ndarray

    @property
    def test(self) -> slice:
        """The scored rows: all after the first `TRAIN_ROWS`."""
        return slice(TRAIN_ROWS, len(self.timestamps))


def _file_order(path: Path) -> tuple[int, int, str]:
    folder = FOLDERS.index(path.parent.name)
    return folder, int(path.stem) if path.stem.isdigit() else 10**6, path.stem


def load_file(path: Path, name: str) -> SkabFile:
    """Read one ``;``-separated SKAB file."""
    frame = pd.read_csv(path, sep=";", parse_dates=["datetime"])
    channels = tuple(c for c in frame.columns if c not in ("datetime", "anomaly", "changepoint"))
    stamps = pd.DatetimeIndex(frame["datetime"])
    return SkabFile(
        name=name,
        timestamps=list(stamps.to_pydatetime()),
        seconds=(stamps - stamps[0]).total_seconds().to_numpy(dtype=float),
        values=frame[list(channels)].to_numpy(dtype=float),
        channels=channels,
        anomaly=frame["anomaly"].to_numpy().astype(bool),
        changepoint=frame["changepoint"].to_numpy().astype(bool),
    )


def load_files(root: Path, limit: int | None = None) -> list[SkabFile]:
    """Every labelled file under ``root`` (valve1, valve2, other; numeric order), at most ``limit``."""
    if not root.is_dir():
        raise FileNotFoundError(f"no SKAB data at {root} (set {DATA_ENV})")
    paths = sorted((p for folder in FOLDERS for p in (root / folder).glob("*.csv")), key=_file_order)
    if not paths:
        raise FileNotFoundError(f"no SKAB files under {root}/{{{','.join(FOLDERS)}}}")
    paths = paths[:limit] if limit else paths
    return [load_file(p, f"{p.parent.name}/{p.name}") for p in paths]


# --------------------------------------------------------------------------------------------
# evaluation


@dataclass
class Result:
    """One detector (and channel) on the corpus: the figures of one table row."""

    detector: str
    family: str
    channel: str
    threshold: str
    f1: float
    far: float
    mar: float
    nab: dict[str, float]
    nab_transitions: float
    vus_pr: float = math.nan
    r_auc_pr: float = math.nan
    oracle_f1: float = math.nan
    nab_best: float = math.nan
    nab_best_threshold: float = math.nan
    fixed: dict[str, float] = field(default_factory=dict)
    points_per_s: float = math.nan
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and math.isnan(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        return {k: clean(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Run:
    """Per-file test-part scores (and flags, if the detector has its own) of one detector."""

    scores: list[np.ndarray]
    flags: list[np.ndarray] | None
    points: int
    seconds: float

    @property
    def rate(self) -> float:
        if not self.points:
            return math.nan  # a reference row: nothing was run
        return self.points / self.seconds if self.seconds > 0 else math.inf


def flag_figures(files: Sequence[SkabFile], flags: Sequence[np.ndarray]) -> tuple[m.Binary, dict[str, float], float]:
    """SKAB's binary figures, NAB per profile (run starts) and NAB standard (SKAB's transitions)."""
    counts = m.Confusion()
    starts = m.NabTally()
    trans = m.NabTally()
    for f, flag in zip(files, flags, strict=True):
        t = f.test
        counts += m.confusion(f.anomaly[t], flag)
        starts += m.nab_tally(f.seconds[t], f.changepoint[t], m.run_starts(flag), NAB_WINDOW_S)
        trans += m.nab_tally(f.seconds[t], f.changepoint[t], m.transitions(flag), NAB_WINDOW_S)
    return m.binary_metrics(counts), m.nab_scores(starts), m.nab_scores(trans)["standard"]


def best_nab(files: Sequence[SkabFile], scores: Sequence[np.ndarray]) -> tuple[float, float]:
    """(best NAB standard, its threshold) over ``NAB_SWEEP`` score quantiles: NAB's own oracle threshold."""
    candidates = np.unique(np.quantile(m.concat(scores), np.linspace(0.0, 1.0, NAB_SWEEP)))
    best = (0.0, math.inf)  # flagging nothing scores 0
    for thr in candidates:
        tally = m.NabTally()
        for f, s in zip(files, scores, strict=True):
            tally += m.nab_tally(f.seconds[f.test], f.changepoint[f.test], m.run_starts(s >= thr), NAB_WINDOW_S)
        score = m.nab_scores(tally)["standard"]
        if score > best[0]:
            best = (score, float(thr))
    return best


def evaluate(
    files: Sequence[SkabFile],
    run: Run,
    detector: str,
    family: str,
    channel: str,
    vus_window: int | None,
    fixed_at: float | None = None,
) -> Result:
    """All figures of one run: its own flags if it has them, else the oracle threshold (and the fixed one)."""
    labels = m.concat([f.anomaly[f.test] for f in files])
    scores = m.concat(run.scores)
    oracle_f1, oracle_thr = m.best_f1_threshold(labels, scores)
    if run.flags is not None:
        flags, threshold = run.flags, "own"
    else:
        flags, threshold = [s >= oracle_thr for s in run.scores], f"oracle {oracle_thr:.3g}"
    binary, nab, nab_tr = flag_figures(files, flags)
    fixed: dict[str, float] = {}
    if fixed_at is not None:
        fixed_binary, fixed_nab, _ = flag_figures(files, [s >= fixed_at for s in run.scores])
        fixed = {
            "threshold": fixed_at,
            "f1": fixed_binary.f1,
            "far": fixed_binary.far,
            "mar": fixed_binary.mar,
            "nab_standard": fixed_nab["standard"],
        }
    nab_best, nab_best_thr = best_nab(files, run.scores)
    vus, r_auc = m.range_pr(labels, scores, vus_window) if vus_window else (math.nan, math.nan)
    c = binary.counts
    return Result(
        detector=detector,
        family=family,
        channel=channel,
        threshold=threshold,
        f1=binary.f1,
        far=binary.far,
        mar=binary.mar,
        nab=nab,
        nab_transitions=nab_tr,
        vus_pr=vus,
        r_auc_pr=r_auc,
        oracle_f1=oracle_f1,
        nab_best=nab_best,
        nab_best_threshold=nab_best_thr,
        fixed=fixed,
        points_per_s=run.rate,
        counts={"tp": c.tp, "tn": c.tn, "fp": c.fp, "fn": c.fn},
    )


def reference(files: Sequence[SkabFile], name: str, flag: Callable[[int], np.ndarray]) -> Result:
    """A detector-free reference row (``never``, ``always``) from its flags alone."""
    binary, nab, nab_tr = flag_figures(files, [flag(len(f.timestamps) - TRAIN_ROWS) for f in files])
    c = binary.counts
    counts = {"tp": c.tp, "tn": c.tn, "fp": c.fp, "fn": c.fn}
    return Result(name, "reference", "-", "-", binary.f1, binary.far, binary.mar, nab, nab_tr, counts=counts)


def run_series(name: str, files: Sequence[SkabFile], channel: int, params: Mapping[str, Any] | None = None) -> Run:
    """A fresh univariate detector per file on one channel (built with `params`); scores of the test parts."""
    scores: list[np.ndarray] = []
    points, seconds = 0, 0.0
    for f in files:
        detector = make_series_detector(name, **dict(params or {}))
        values = f.values[:, channel]
        started = time.process_time()
        s = np.asarray(detector.score_series(f.timestamps, values), dtype=float)
        seconds += time.process_time() - started
        points += len(values)
        if s.shape != values.shape or not np.all((s >= 0) & (s <= 1)):
            raise SystemExit(f"{name}: scores out of [0, 1] or of the wrong length on {f.name} {f.channels[channel]}")
        scores.append(s[f.test])
    return Run(scores, None, points, seconds)


def run_station(name: str, files: Sequence[SkabFile]) -> Run:
    """A fresh station detector per file over all its channels; scores and own flags of the test parts."""
    scores: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    points, seconds = 0, 0.0
    for f in files:
        detector = make_station_detector(name, f.channels)
        started = time.process_time()
        s, flag = detector.score_frame(f.timestamps, f.values)
        seconds += time.process_time() - started
        points += f.values.size
        s = np.asarray(s, dtype=float)
        if s.shape != (len(f.timestamps),) or np.shape(flag) != s.shape or not np.all((s >= 0) & (s <= 1)):
            raise SystemExit(f"{name}: scores out of [0, 1] or of the wrong shape on {f.name}")
        scores.append(s[f.test])
        flags.append(np.asarray(flag, dtype=bool)[f.test])
    return Run(scores, flags, points, seconds)


def evaluate_series(
    name: str, files: Sequence[SkabFile], vus_window: int | None, params: Mapping[str, Any] | None = None
) -> list[Result]:
    """One row per channel and a ``max`` row fusing the channels, for one univariate detector."""
    runs = [run_series(name, files, c, params) for c in range(len(files[0].channels))]
    fixed_at = fixed_threshold(name)
    results = [evaluate(files, run, name, "univariate", files[0].channels[c], vus_window, fixed_at) for c, run in enumerate(runs)]
    fused = Run(
        scores=[np.max(np.stack([run.scores[i] for run in runs]), axis=0) for i in range(len(files))],
        flags=None,
        points=sum(r.points for r in runs),
        seconds=sum(r.seconds for r in runs),
    )
    results.append(evaluate(files, fused, name, "univariate", "max", vus_window, fixed_at))
    return results


def evaluate_station(name: str, files: Sequence[SkabFile], vus_window: int | None) -> list[Result]:
    """One row for one station detector."""
    return [evaluate(files, run_station(name, files), name, "station", "all", vus_window)]


def references(files: Sequence[SkabFile], vus_window: int | None) -> list[Result]:
    """The ``never``, ``always`` and ``random`` (seeded uniform scores: the floor of VUS-PR and NAB*) rows."""
    rng = np.random.default_rng(0)
    noise = Run([rng.random(len(f.timestamps) - TRAIN_ROWS) for f in files], None, 0, 0.0)
    return [
        reference(files, "never", lambda n: np.zeros(n, dtype=bool)),
        reference(files, "always", lambda n: np.ones(n, dtype=bool)),
        evaluate(files, noise, "random", "reference", "-", vus_window),
    ]


# --------------------------------------------------------------------------------------------
# command line


def pick(names: Sequence[str] | None, station: bool, univariate: bool) -> tuple[list[str], list[str]]:
    """(station names, univariate names) to run: the named ones, or every registered one of the chosen families."""
    both = not station and not univariate
    known_station = list(known_station_detectors())
    known_series = list(known_series_detectors())
    if names:
        unknown = [n for n in names if n not in known_station and n not in known_series]
        if unknown:
            raise SystemExit(f"unknown detector(s) {unknown}; station: {known_station}; univariate: {known_series}")
        chosen_station = [n for n in names if n in known_station and (station or both)]
        chosen_series = [n for n in names if n in known_series and n not in chosen_station and (univariate or both)]
        return chosen_station, chosen_series
    return (known_station if station or both else []), (known_series if univariate or both else [])


def _fmt(v: float, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


HEADER = (
    f"{'detector':<16} {'channel':<20} {'threshold':<14} {'F1':>5} {'FAR%':>6} {'MAR%':>6} "
    f"{'NAB':>6} {'lowFP':>6} {'lowFN':>6} {'NAB-tr':>6} {'NAB*':>6} {'VUS-PR':>6} {'RAUCPR':>6} "
    f"{'fixed':>5} {'F1@fix':>6} {'FAR@fix':>7} {'NAB@fix':>7} {'pts/s':>8}"
)


def row(r: Result) -> str:
    """One table line."""
    return (
        f"{r.detector:<16} {r.channel:<20} {r.threshold:<14} {_fmt(r.f1, '5.3f')} {_fmt(r.far, '6.1f')} "
        f"{_fmt(r.mar, '6.1f')} {_fmt(r.nab['standard'], '6.1f')} {_fmt(r.nab['reward_low_FP'], '6.1f')} "
        f"{_fmt(r.nab['reward_low_FN'], '6.1f')} {_fmt(r.nab_transitions, '6.1f')} {_fmt(r.nab_best, '6.1f')} "
        f"{_fmt(r.vus_pr, '6.3f')} {_fmt(r.r_auc_pr, '6.3f')} {_fmt(r.fixed.get('threshold', math.nan), '5.3g')} "
        f"{_fmt(r.fixed.get('f1', math.nan), '6.3f')} {_fmt(r.fixed.get('far', math.nan), '7.1f')} "
        f"{_fmt(r.fixed.get('nab_standard', math.nan), '7.1f')} {_fmt(r.points_per_s, '8.0f')}"
    )


def describe(files: Sequence[SkabFile]) -> str:
    """One line about the corpus being scored."""
    test_rows = sum(len(f.timestamps) - TRAIN_ROWS for f in files)
    anomalous = sum(int(f.anomaly[f.test].sum()) for f in files)
    cps = sum(int(f.changepoint[f.test].sum()) for f in files)
    return (
        f"SKAB: {len(files)} files, {len(files[0].channels)} channels, {test_rows} test rows "
        f"({anomalous} anomalous, {100 * anomalous / max(test_rows, 1):.1f} %), {cps} changepoints; "
        f"first {TRAIN_ROWS} rows of each file are warm-up, not scored"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--detector", action="append", help="detector name (repeatable; univariate or station)")
    parser.add_argument("--station", action="store_true", help="station (multivariate) detectors only")
    parser.add_argument("--univariate", action="store_true", help="univariate series detectors only")
    parser.add_argument("--files", type=int, default=None, help="only the first N files (quick run)")
    parser.add_argument("--data", type=Path, default=None, help=f"SKAB data folder (default ${DATA_ENV} or ../shared/data/skab)")
    parser.add_argument("--vus-window", type=int, default=VUS_WINDOW, help="largest label buffer (rows) for VUS-PR / R-AUC-PR")
    parser.add_argument("--no-vus", action="store_true", help="skip VUS-PR and R-AUC-PR (the slow part)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument(
        "--params", type=json.loads, default=None, help="univariate detectors' parameters as JSON, e.g. '{\"warmup\": 400}'"
    )
    args = parser.parse_args(argv)

    vus_window = None if args.no_vus else args.vus_window
    if vus_window:
        try:
            m.require_tsb_ad()
        except m.TsbAdMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    station_names, series_names = pick(args.detector, args.station, args.univariate)
    files = load_files(args.data or default_data_dir(), args.files)
    print(describe(files))
    if not station_names and (args.station or not series_names):
        print("no station detectors are registered" if not known_station_detectors() else "no station detector chosen")
    print(HEADER)
    results = references(files, vus_window)
    for r in results:
        print(row(r))
    for name in station_names:
        results.extend(_printed(evaluate_station(name, files, vus_window)))
    for name in series_names:
        results.extend(_printed(evaluate_series(name, files, vus_window, args.params)))
    if args.json:
        payload = {
            "files": [f.name for f in files],
            "train_rows": TRAIN_ROWS,
            "nab_window_s": NAB_WINDOW_S,
            "vus_window": vus_window,
            "fixed_thresholds": {name: fixed_threshold(name) for name in series_names},
            "params": args.params,
            "results": [r.as_dict() for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


def _printed(results: Iterable[Result]) -> list[Result]:
    out = list(results)
    for r in out:
        print(row(r), flush=True)
    return out


if __name__ == "__main__":
    sys.exit(main())

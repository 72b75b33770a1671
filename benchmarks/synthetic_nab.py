"""Synthetic NAB-style benchmark for the univariate series detectors.

Builds a seeded corpus of labelled univariate streams shaped like the public streaming anomaly
benchmarks (machine temperature, CPU and request latency, cloud metrics, traffic speed and
occupancy, social-media counts, taxi demand, artificial seasonal signals), then scores detectors
with a scorer written from the published description of the Numenta Anomaly Benchmark:

* each file has a probationary period of ``min(15 % of its length, 750)`` points that is not
  scored (detectors warm up there);
* every labelled anomaly gets a window of ``10 % of the file length / number of anomalies``
  points centred on the label; overlapping windows are merged;
* with one threshold for the whole corpus, points with ``score >= threshold`` are detections.
  The first detection inside a window earns ``A_TP * sigmoid(y)`` where ``y`` is its position
  relative to the window's end (``-1`` at the start, ``0`` at the end) and
  ``sigmoid(y) = 2 / (1 + exp(5 y)) - 1``; later detections in the same window count nothing;
  a window without a detection costs ``A_FN``; every detection outside windows costs
  ``A_FP * |sigmoid(y)|`` where ``y`` is the distance past the previous window's end in window
  lengths (full ``A_FP`` when no window precedes it), so alarms just after a window are cheap;
* the threshold is swept exactly over every distinct score; the best total is reported,
  normalised so that the null detector (never alarms) scores 0 and a perfect one 100.

Profiles: standard (A_TP=1, A_FP=-0.11, A_FN=-1), reward_low_FP (A_FP=-0.22),
reward_low_FN (A_FN=-2).

Usage::

    python benchmarks/synthetic_nab.py                      # default + baselines
    python benchmarks/synthetic_nab.py -d default -d knn    # registered detectors by name
    python benchmarks/synthetic_nab.py --per-file           # per-file detail for the first one

The corpus is for engineering a *general* detector: it is deliberately varied, and no single
file decides anything. It is not a substitute for the real held-out benchmarks.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from nab_common import PROFILES, normalised

from riskwatch.detectors.series.base import SeriesDetector

# --------------------------------------------------------------------------------------------
# corpus


@dataclass
class LabelledSeries:
    name: str
    timestamps: list[datetime]
    values: np.ndarray
    labels: list[int]  # anomaly onset indices
    windows: list[tuple[int, int]] = field(default_factory=list)  # inclusive index ranges

    def __post_init__(self) -> None:
        if not self.windows:
            self.windows = nab_windows(len(self.values), self.labels)


def nab_windows(n: int, labels: list[int]) -> list[tuple[int, int]]:
    """Windows of 10 % of the file / number of labels, centred on each label, merged if overlapping."""
    if not labels:
        return []
    width = int(0.1 * n / len(labels))
    raw = sorted((max(0, c - width // 2), min(n - 1, c + width // 2)) for c in labels)
    merged: list[tuple[int, int]] = [raw[0]]
    for start, end in raw[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def probation(n: int) -> int:
    return int(min(math.floor(0.15 * n), 0.15 * 5000))


T0 = datetime(2014, 4, 1)


def _regular_ts(n: int, minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=minutes * i) for i in range(n)]


def _daily(n: int, per_day: int, phase: float = 0.0) -> np.ndarray:
    t = np.arange(n)
    return np.sin(2 * np.pi * (t / per_day) + phase)


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    e = rng.normal(0, sd, n)
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = phi * acc + e[i]
        out[i] = acc
    return out


def _onsets(rng: np.random.Generator, n: int, count: int, gap: int = 500) -> list[int]:
    """Anomaly onsets after the probationary period, at least `gap` apart."""
    lo = int(0.22 * n)
    hi = int(0.93 * n)
    for _ in range(1000):
        picks = sorted(int(v) for v in rng.integers(lo, hi, count))
        if all(b - a >= gap for a, b in itertools.pairwise(picks)):
            return picks
    return [lo + i * gap for i in range(count)]


def machine_temperature(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Slowly wandering temperature with a mild daily cycle; a gradual failure and a sudden drop."""
    x = 80 + 2.0 * _daily(n, 288) + _ar1(rng, n, 0.995, 0.25) + rng.normal(0, 0.3, n)
    a, b = _onsets(rng, n, 2, gap=700)
    # gradual failure: temperature slides down by ~12 over 200 points, holds, recovers
    ramp = np.clip((np.arange(n) - a) / 200.0, 0, 1) * -12.0
    ramp[a + 400 :] *= np.clip(1 - (np.arange(n)[a + 400 :] - a - 400) / 60.0, 0, 1)
    x = x + ramp
    x[b : b + 40] -= 18 + rng.normal(0, 1.0, len(x[b : b + 40]))
    return LabelledSeries("machine_temperature", _regular_ts(n, 5), x, [a, b])


def cpu_level_shift(rng: np.random.Generator, n: int) -> LabelledSeries:
    """CPU % with benign spikes; a misconfiguration shifts the level for good."""
    base = 22 + 3 * _daily(n, 288, rng.uniform(0, 6)) + rng.gamma(2.0, 1.5, n)
    spikes = rng.random(n) < 0.01
    base[spikes] += rng.exponential(12, spikes.sum())
    (a,) = _onsets(rng, n, 1)
    shift = rng.choice([-1, 1]) * rng.uniform(12, 20)
    base[a:] += shift
    return LabelledSeries("cpu_level_shift", _regular_ts(n, 5), np.clip(base, 0, 100), [a])


def request_latency(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Lognormal latency; failure spikes and a sustained slowdown."""
    x = 50 * np.exp(rng.normal(0, 0.12, n) + 0.05 * _daily(n, 288))
    benign = rng.random(n) < 0.004
    x[benign] *= rng.uniform(1.3, 1.8, benign.sum())
    a, b, c = _onsets(rng, n, 3, gap=400)
    x[a : a + 3] *= rng.uniform(3, 5)
    x[b : b + 60] *= 1.5
    x[c] *= 2.5
    return LabelledSeries("request_latency", _regular_ts(n, 5), x, [a, b, c])


def traffic_speed(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Speed with weekday rush-hour dips, irregular timestamps; an incident dip and a stuck sensor."""
    ts: list[datetime] = []
    t = T0
    for _ in range(n):
        ts.append(t)
        step = 5 + rng.normal(0, 0.6)
        if rng.random() < 0.01:
            step += rng.uniform(5, 60)  # gaps
        t += timedelta(minutes=max(1.0, step))
    hours = np.array([(s - T0).total_seconds() / 3600.0 for s in ts])
    hod = hours % 24
    weekday = ((hours // 24).astype(int) % 7) < 5
    dip = 22 * np.exp(-((hod - 8.5) ** 2) / 1.5) + 25 * np.exp(-((hod - 17.5) ** 2) / 2.0)
    x = 62 - dip * weekday + rng.normal(0, 3.5, n)
    a, b = _onsets(rng, n, 2, gap=600)
    # an incident: speed collapses for ~2 hours
    x[a : a + 24] = 15 + rng.normal(0, 3, len(x[a : a + 24]))
    # stuck sensor: repeats one reading
    x[b : b + 150] = round(float(x[b]))
    return LabelledSeries("traffic_speed", ts, np.clip(x, 0, None), [a, b])


def traffic_occupancy(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Occupancy % (spiky, skewed) with a blocked-lane episode and a sensor dropout to zero."""
    hod = (np.arange(n) * 5 / 60.0) % 24
    level = 6 + 10 * np.exp(-((hod - 8) ** 2) / 2) + 12 * np.exp(-((hod - 17.5) ** 2) / 3)
    x = level * rng.gamma(6, 1 / 6, n)
    a, b = _onsets(rng, n, 2, gap=600)
    x[a : a + 36] += 25 + rng.normal(0, 4, len(x[a : a + 36]))
    x[b : b + 80] = 0.0
    return LabelledSeries("traffic_occupancy", _regular_ts(n, 5), np.clip(x, 0, 100), [a, b])


def tweet_volume(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Counts per 5 min with daily cycle, day-to-day variation and benign bursts; two real events."""
    day = np.repeat(rng.lognormal(0, 0.2, n // 288 + 2), 288)[:n]
    lam = (25 + 15 * _daily(n, 288, 2.0)) * day
    bursts = np.zeros(n)
    for start in np.flatnonzero(rng.random(n) < 0.006):
        k = np.arange(min(12, n - start))
        bursts[start : start + len(k)] += rng.uniform(20, 60) * np.exp(-k / 3)
    a, b = _onsets(rng, n, 2, gap=600)
    k = np.arange(len(bursts[a : a + 40]))
    bursts[a : a + 40] += rng.uniform(250, 400) * np.exp(-k / 8)
    bursts[b : b + 120] += lam[b : b + 120] * 2.0
    x = rng.poisson(lam + bursts).astype(float)
    return LabelledSeries("tweet_volume", _regular_ts(n, 5), x, [a, b])


def taxi_demand(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Half-hourly demand with daily and weekly cycles; a holiday and a storm."""
    hours = np.arange(n) * 0.5
    hod = hours % 24
    dow = (hours // 24).astype(int) % 7
    weekday = dow < 5
    shape = np.where(
        weekday,
        5 + 14 * np.exp(-((hod - 8.5) ** 2) / 3) + 18 * np.exp(-((hod - 19) ** 2) / 6),
        8 + 12 * np.exp(-((hod - 14) ** 2) / 20) + 8 * np.exp(-((hod - 1) ** 2) / 4),
    )
    x = 1000 * shape * (1 + 0.04 * rng.normal(0, 1, n)) + rng.normal(0, 400, n)
    a, b = _onsets(rng, n, 2, gap=700)
    # holiday: the day from the label looks like a quiet weekend day
    day0 = a - int(hod[a] * 2)
    a = day0 + 14  # 07:00 that day, where the difference shows
    hol = slice(day0, day0 + 48)
    wk = 8 + 12 * np.exp(-((hod[hol] - 14) ** 2) / 20) + 8 * np.exp(-((hod[hol] - 1) ** 2) / 4)
    x[hol] = 800 * wk * (1 + 0.04 * rng.normal(0, 1, len(wk)))
    # storm: demand collapses for ten hours
    x[b : b + 20] *= 0.25
    return LabelledSeries("taxi_demand", _regular_ts(n, 30), np.clip(x, 0, None), [a, b])


def art_daily(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Artificial daily wave: one cycle jumps up, later the signal goes flat for a while."""
    x = 50 + 20 * _daily(n, 288) + rng.normal(0, 1.5, n)
    a, b = _onsets(rng, n, 2, gap=700)
    wave = _daily(n, 288) + 0.3
    while not (wave[a] > 0 >= wave[a - 1]):  # the jump starts where the next daily crest does
        a += 1
    cyc = slice(a, a + 144)
    x[cyc] += 25 * np.clip(wave[cyc], 0, None)
    x[b : b + 288] = 50 + rng.normal(0, 1.5, len(x[b : b + 288])) * 0.05
    return LabelledSeries("art_daily", _regular_ts(n, 5), x, [a, b])


def volatility(rng: np.random.Generator, n: int) -> LabelledSeries:
    """A mean-reverting metric whose noise triples, later a short-lived drop."""
    x = 100 + _ar1(rng, n, 0.9, 2.0)
    a, b = _onsets(rng, n, 2, gap=700)
    x[a : a + 200] = 100 + _ar1(rng, len(x[a : a + 200]), 0.9, 6.5)
    x[b : b + 15] -= 25
    return LabelledSeries("volatility", _regular_ts(n, 5), x, [a, b])


def memory_leak(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Memory use that grows and is reset daily; once the reset fails and it climbs on (drift)."""
    t = np.arange(n)
    phase = t % 288
    x = 30 + 0.12 * phase + rng.normal(0, 1.2, n)
    (a,) = _onsets(rng, n, 1, gap=500)
    day_start = a - (a % 288) + 288  # the reset that does not happen
    if day_start + 400 < n:
        x[day_start : day_start + 400] = 30 + 0.12 * (288 + np.arange(400)) + rng.normal(0, 1.2, 400)
        after = day_start + 400
        x[after:] = 30 + 0.12 * ((t[after:] - after) % 288) + rng.normal(0, 1.2, n - after)
        label = day_start + 30
    else:
        label = a
        x[a : a + 100] += np.linspace(0, 30, 100)
    return LabelledSeries("memory_leak", _regular_ts(n, 5), x, [label])


def no_anomaly(rng: np.random.Generator, n: int) -> LabelledSeries:
    """Seasonal, noisy, trending, with benign spikes: nothing to find."""
    x = 40 + 0.002 * np.arange(n) + 8 * _daily(n, 288, 1.0) + _ar1(rng, n, 0.7, 1.5)
    spikes = rng.random(n) < 0.003
    x[spikes] += rng.uniform(4, 8, spikes.sum())
    return LabelledSeries("no_anomaly", _regular_ts(n, 5), x, [])


GENERATORS: list[Callable[[np.random.Generator, int], LabelledSeries]] = [
    machine_temperature,
    cpu_level_shift,
    request_latency,
    traffic_speed,
    traffic_occupancy,
    tweet_volume,
    taxi_demand,
    art_daily,
    volatility,
    memory_leak,
    no_anomaly,
]


def make_corpus(seed: int = 7, copies: int = 3, n: int = 4000) -> list[LabelledSeries]:
    corpus = []
    for g in GENERATORS:
        for c in range(copies):
            rng = np.random.default_rng([seed, c, GENERATORS.index(g)])
            s = g(rng, n)
            s.name = f"{s.name}_{c}"
            corpus.append(s)
    return corpus


# --------------------------------------------------------------------------------------------
# scorer


def scaled_sigmoid(y: float) -> float:
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def nab_score(
    results: list[tuple[np.ndarray, LabelledSeries]], profile: str = "standard"
) -> tuple[float, float, dict[str, float]]:
    """Best normalised score over one corpus-wide threshold: (score, threshold, counts)."""
    a_tp, a_fp, a_fn = PROFILES[profile]
    points: list[tuple[float, int, int]] = []  # (score, file, index)
    fp_weight: list[np.ndarray] = []
    tp_weight: list[np.ndarray] = []
    window_of: list[np.ndarray] = []
    n_windows = 0
    window_base: list[int] = []
    for f, (scores, series) in enumerate(results):
        n = len(series.values)
        prob = probation(n)
        win = np.full(n, -1, dtype=int)
        tpw = np.zeros(n)
        fpw = np.zeros(n)
        for w, (s, e) in enumerate(series.windows):
            win[s : e + 1] = n_windows + w
            length = e - s + 1
            for i in range(s, e + 1):
                tpw[i] = a_tp * scaled_sigmoid(-(e - i + 1) / length)
        prev_end, prev_len = None, None
        wi = 0
        for i in range(n):
            while wi < len(series.windows) and series.windows[wi][1] < i:
                prev_end = series.windows[wi][1]
                prev_len = series.windows[wi][1] - series.windows[wi][0] + 1
                wi += 1
            if win[i] < 0:
                if prev_end is None:
                    fpw[i] = a_fp
                else:
                    fpw[i] = -a_fp * scaled_sigmoid((i - prev_end) / prev_len)
        window_base.append(n_windows)
        n_windows += len(series.windows)
        window_of.append(win)
        tp_weight.append(tpw)
        fp_weight.append(fpw)
        idx = np.arange(prob, n)
        points.extend(zip(np.asarray(scores, float)[idx].tolist(), [f] * len(idx), idx.tolist()))
    null = a_fn * n_windows
    perfect = sum(a_tp * scaled_sigmoid(-1.0) for _ in range(n_windows))
    points.sort(key=lambda p: -p[0])
    first = [None] * n_windows
    total = null
    best = (total, float("inf"), 0, 0, 0)
    tp = fp = 0
    i = 0
    while i < len(points):
        thr = points[i][0]
        while i < len(points) and points[i][0] == thr:
            _, f, k = points[i]
            w = window_of[f][k]
            if w < 0:
                total += fp_weight[f][k]
                fp += 1
            else:
                old = first[w]
                if old is None:
                    total += tp_weight[f][k] - a_fn
                    first[w] = k
                    tp += 1
                elif k < old:
                    total += tp_weight[f][k] - tp_weight[f][old]
                    first[w] = k
            i += 1
        if total > best[0]:
            best = (total, thr, tp, fp, n_windows - tp)
    norm = normalised(best[0], null, perfect)
    return norm, best[1], {"TP": best[2], "FP": best[3], "FN": best[4]}


def file_breakdown(results: list[tuple[np.ndarray, LabelledSeries]], threshold: float, profile: str = "standard"):
    """Per file at one threshold: first-detection delays (points from the label), FP count and cost."""
    a_fp = PROFILES[profile][1]
    for scores, series in results:
        n = len(series.values)
        prob = probation(n)
        hit = np.flatnonzero(np.asarray(scores) >= threshold)
        hit = hit[hit >= prob]
        inside = np.zeros(n, bool)
        delays = []
        for (s, e), label in zip(series.windows, sorted(series.labels)):
            inside[s : e + 1] = True
            d = hit[(hit >= s) & (hit <= e)]
            delays.append(int(d[0] - label) if len(d) else None)
        fps = hit[~inside[hit]]
        cost = 0.0
        for i in fps:
            prev = [w for w in series.windows if w[1] < i]
            if prev:
                e = prev[-1][1]
                cost += -a_fp * scaled_sigmoid((i - e) / (prev[-1][1] - prev[-1][0] + 1))
            else:
                cost += a_fp
        yield scores, series, f"delays={delays} FP={len(fps)} cost={cost:.2f} at {fps[:8].tolist()}"


# --------------------------------------------------------------------------------------------
# simple baselines (for comparison only)


class WindowedGaussian(SeriesDetector):
    """NAB-style windowed Gaussian: tail probability of the value under the last `window` points."""

    name = "windowed_gaussian"

    def __init__(self, window: int = 6400, warmup: int = 100) -> None:
        self.window = window
        self.warmup = warmup
        self.buf: deque[float] = deque(maxlen=window)

    def update(self, ts: datetime, value: float) -> float:
        score = 0.0
        if len(self.buf) >= self.warmup:
            arr = np.fromiter(self.buf, float)
            sd = arr.std() or 1e-9
            z = abs(value - arr.mean()) / sd
            score = 1.0 - math.erfc(z / math.sqrt(2))
        self.buf.append(value)
        return score

    def score_series(self, ts: list[datetime], values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, float)
        n = len(v)
        c1 = np.concatenate([[0.0], np.cumsum(v)])
        c2 = np.concatenate([[0.0], np.cumsum(v * v)])
        out = np.zeros(n)
        for i in range(self.warmup, n):
            lo = max(0, i - self.window)
            m = (c1[i] - c1[lo]) / (i - lo)
            var = max((c2[i] - c2[lo]) / (i - lo) - m * m, 1e-18)
            out[i] = 1.0 - math.erfc(abs(v[i] - m) / math.sqrt(2 * var))
        return out

    def get_state(self) -> dict[str, Any]:
        return {"buf": list(self.buf)}

    def set_state(self, state: dict[str, Any]) -> None:
        self.buf = deque(state["buf"], maxlen=self.window)


class RollingZScore(WindowedGaussian):
    """Rolling z-score over the last day (288 points): the windowed Gaussian with a short window."""

    name = "rolling_zscore"

    def __init__(self, window: int = 288, warmup: int = 100) -> None:
        super().__init__(window=window, warmup=warmup)


class RandomScores(SeriesDetector):
    """Seeded uniform noise: the floor any detector must clear."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def update(self, ts: datetime, value: float) -> float:
        return float(self.rng.random())

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


BASELINES: dict[str, Callable[[], SeriesDetector]] = {
    "windowed_gaussian": WindowedGaussian,
    "rolling_zscore": RollingZScore,
    "random": RandomScores,
}


def make(name: str, params: dict[str, Any] | None = None) -> SeriesDetector:
    if name in BASELINES:
        return BASELINES[name](**(params or {}))
    from riskwatch.detectors.series.registry import make_series_detector

    return make_series_detector(name, **(params or {}))


def run(name: str, corpus: list[LabelledSeries], params: dict[str, Any] | None = None):
    results = []
    points = 0
    elapsed = 0.0
    for s in corpus:
        det = make(name, params)
        t0 = time.process_time()
        scores = det.score_series(s.timestamps, s.values)
        elapsed += time.process_time() - t0
        points += len(s.values)
        scores = np.asarray(scores, float)
        if scores.shape != s.values.shape or not np.all((scores >= 0) & (scores <= 1)):
            raise SystemExit(f"{name}: scores out of [0, 1] or wrong length on {s.name}")
        results.append((scores, s))
    return results, points / elapsed if elapsed else float("inf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--detector", action="append", help="detector name (repeatable)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--copies", type=int, default=3, help="series per generator")
    parser.add_argument("--length", type=int, default=4000)
    parser.add_argument("--per-file", action="store_true", help="per-file detail for each detector")
    args = parser.parse_args(argv)
    names = args.detector or ["default", "windowed_gaussian", "rolling_zscore", "random"]
    corpus = make_corpus(args.seed, args.copies, args.length)
    n_points = sum(len(s.values) for s in corpus)
    n_windows = sum(len(s.windows) for s in corpus)
    print(f"corpus: {len(corpus)} series, {n_points} points, {n_windows} anomaly windows (seed {args.seed})")
    print(
        f"{'detector':<20} {'standard':>9} {'low_FP':>8} {'low_FN':>8}   TP/FP/FN (standard)  threshold   points/s (per CPU second)"
    )
    for name in names:
        results, rate = run(name, corpus)
        std, thr, counts = nab_score(results, "standard")
        low_fp, _, _ = nab_score(results, "reward_low_FP")
        low_fn, _, _ = nab_score(results, "reward_low_FN")
        c = f"{counts['TP']}/{counts['FP']}/{counts['FN']}"
        print(f"{name:<20} {std:9.1f} {low_fp:8.1f} {low_fn:8.1f}   {c:<20} {thr:9.4f} {rate:10.0f}")
        if args.per_file:
            for scores, s, detail in file_breakdown(results, thr, "standard"):
                print(f"    {s.name:<24} {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Causal windowed features of a univariate series, one row per point.

A row describes a point by its value and by how that value sits against the points before it:
first and second differences, rolling mean / std / min / max and a z-score over a few windows
of past points, the residual from a daily and a weekly profile learned from earlier points
(bucketed by the timestamps' hour of day and hour of week), and the time since the value last
changed. Nothing after the point is used, so a row never changes when more points arrive.

`FeatureWindow.push` builds one row and learns the point; `FeatureWindow.push_many` builds the
rows of a whole array at once and gives exactly the numbers `push` gives one by one: the batch
takes the window statistics with numpy reductions over contiguous rows, the streaming path on
Python floats with the same operations in the same order (numpy's pairwise summation included,
`pairwise_sum`), and both share the profile and change-tracking recurrences.

>>> from datetime import datetime, timedelta
>>> fw = FeatureWindow(windows=(2, 4))
>>> t0 = datetime(2026, 11, 23)
>>> rows = [fw.push(t0 + timedelta(minutes=5 * i), v) for i, v in enumerate([1.0, 2.0, 2.0, 8.0])]
>>> dict(zip(fw.feature_names, rows[-1].round(3).tolist()))["diff1"]
6.0
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Past-point windows the rolling statistics are taken over (at 5-minute readings: 15 min, 1 h, 4 h).
DEFAULT_WINDOWS: tuple[int, ...] = (3, 12, 48)

_STATS = ("mean", "std", "min", "max", "z")
_DAY_S = 86_400.0
_WEEK_S = 7 * _DAY_S
_EPOCH_NAIVE = datetime(1970, 1, 1)
_CHUNK_ROWS = 8192


def epoch_seconds(ts: datetime) -> float:
    """Seconds since the epoch; a naive timestamp is read as UTC (never as this machine's zone)."""
    if isinstance(ts, np.datetime64):
        ts = ts.astype("datetime64[us]").item()
    if ts.tzinfo is None:
        return (ts - _EPOCH_NAIVE).total_seconds()
    return ts.timestamp()


def _wall_clock(ts: datetime) -> tuple[int, int]:
    """(hour of day, hour of week) on the timestamp's own wall clock (naive: as given)."""
    if isinstance(ts, np.datetime64):
        ts = ts.astype("datetime64[us]").item().replace(tzinfo=timezone.utc)
    return ts.hour, ts.weekday() * 24 + ts.hour


def pairwise_sum(xs: Sequence[float], lo: int = 0, n: int | None = None) -> float:
    """`np.add.reduce` of a contiguous float64 row, bit for bit: numpy's pairwise summation.

    Eight running sums over blocks of eight, combined as a tree, then the remainder in order;
    under eight values a plain running sum; above 128 halves (at a multiple of eight) recursively.
    """
    n = len(xs) - lo if n is None else n
    if n < 8:
        total = 0.0
        for i in range(lo, lo + n):
            total += xs[i]
        return total
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = xs[lo : lo + 8]
        i, stop = lo + 8, lo + n - n % 8
        while i < stop:
            r0 += xs[i]
            r1 += xs[i + 1]
            r2 += xs[i + 2]
            r3 += xs[i + 3]
            r4 += xs[i + 4]
            r5 += xs[i + 5]
            r6 += xs[i + 6]
            r7 += xs[i + 7]
            i += 8
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for j in range(stop, lo + n):
            total += xs[j]
        return total
    half = n // 2
    half -= half % 8
    return pairwise_sum(xs, lo, half) + pairwise_sum(xs, lo + half, n - half)


def _window_stats(window: list[float], value: float, z_clip: float) -> list[float]:
    """`FeatureWindow._stats` of one value against one window of past points, on Python floats."""
    w = len(window)
    if w == 0:
        return [value, 0.0, value, value, 0.0]
    mean = pairwise_sum(window) / w
    std = math.sqrt(pairwise_sum([(x - mean) * (x - mean) for x in window]) / w)
    z = (value - mean) / max(std, 1e-12 + 1e-9 * abs(mean))
    return [mean, std, min(window), max(window), min(max(z, -z_clip), z_clip)]


class FeatureWindow:
    """Streaming feature extractor for one series.

    Parameters
    ----------
    windows
        Lengths (in points) of the past windows for rolling mean / std / min / max and the
        z-score of the value against each. At least 2 each.
    profiles
        Add the residuals from a daily (24 hour buckets) and weekly (168 hour-of-week buckets)
        profile. Each bucket is an exponentially weighted mean of earlier values in it.
    profile_alpha
        Weight of a new value in its bucket's mean (a plain mean while the bucket is young).
    profile_min_periods
        A profile is used only once the series spans this many days (daily) or weeks (weekly);
        before that, and for a bucket not yet seen, the residual is taken against the mean of
        the longest window instead, so the column is always defined.
    z_clip
        The z-scores are clipped to ±`z_clip` (a flat window makes any change infinitely far).
    max_since_change_s
        Cap on the time since the value last changed, so a series that stays constant for long
        settles instead of looking newer than anything seen before at every point.
    """

    def __init__(
        self,
        windows: Sequence[int] = DEFAULT_WINDOWS,
        *,
        profiles: bool = True,
        profile_alpha: float = 0.05,
        profile_min_periods: float = 2.0,
        z_clip: float = 50.0,
        max_since_change_s: float = 86_400.0,
    ) -> None:
        ws = tuple(sorted({int(w) for w in windows}))
        if not ws or ws[0] < 2:
            raise ValueError(f"windows must be lengths of at least 2 points, got {tuple(windows)!r}")
        if not 0.0 < profile_alpha <= 1.0:
            raise ValueError(f"profile_alpha must be in (0, 1], got {profile_alpha}")
        if z_clip <= 0:
            raise ValueError(f"z_clip must be positive, got {z_clip}")
        if max_since_change_s <= 0:
            raise ValueError(f"max_since_change_s must be positive, got {max_since_change_s}")
        self.windows = ws
        self.profiles = bool(profiles)
        self.profile_alpha = float(profile_alpha)
        self.profile_min_periods = float(profile_min_periods)
        self.z_clip = float(z_clip)
        self.max_since_change_s = float(max_since_change_s)
        self.feature_names: tuple[str, ...] = (
            ("value", "diff1", "diff2")
            + tuple(f"{stat}_{w}" for w in ws for stat in _STATS)
            + (("daily_residual", "weekly_residual") if self.profiles else ())
            + ("since_change_s",)
        )
        self._longest_mean = self.feature_names.index(f"mean_{ws[-1]}")
        self._reset()

    # ------------------------------------------------------------------ public

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_seen(self) -> int:
        """Points pushed so far."""
        return self._n_seen

    @property
    def full(self) -> bool:
        """Whether the longest window has been filled (earlier rows use partial windows)."""
        return self._n_seen >= self.windows[-1]

    def push(self, ts: datetime, value: float) -> np.ndarray:
        """Features of this point from the points before it and itself; then learn the point.

        One point at a time is the streaming hot path, so it runs on Python floats
        (`_window_stats`) rather than numpy calls on a handful of numbers; the arithmetic is
        numpy's own, so the row equals what `push_many` gives bit for bit.
        """
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"feature window needs finite values, got {value!r}")
        past = list(self._past)
        k = len(past)
        out = [v, v - past[-1] if k >= 1 else 0.0]
        out.append(out[1] - (past[-1] - past[-2]) if k >= 2 else 0.0)
        for w in self.windows:
            out.extend(_window_stats(past[max(0, k - w) :], v, self.z_clip))
        hour, week_hour = _wall_clock(ts)
        out.extend(self._step(v, epoch_seconds(ts), hour, week_hour, out[self._longest_mean]))
        self._past.append(v)
        self._n_seen += 1
        return np.array(out)

    def push_many(self, ts: Sequence[datetime], values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Rows for a whole array in order: the same numbers as `push` one point at a time."""
        vals = np.asarray(values, dtype=float).ravel()
        n = vals.size
        if len(ts) != n:
            raise ValueError(f"{len(ts)} timestamps for {n} values")
        if n == 0:
            return np.empty((0, self.n_features))
        if not np.isfinite(vals).all():
            raise ValueError("feature window needs finite values")
        past = np.fromiter(self._past, dtype=float, count=len(self._past))
        allv = np.concatenate([past, vals])
        pos = past.size + np.arange(n)  # index of each point in allv
        out = np.empty((n, self.n_features))
        out[:, 0] = vals
        out[:, 1] = 0.0
        has1 = pos >= 1
        out[has1, 1] = allv[pos[has1]] - allv[pos[has1] - 1]
        out[:, 2] = 0.0
        has2 = pos >= 2
        out[has2, 2] = (allv[pos[has2]] - allv[pos[has2] - 1]) - (allv[pos[has2] - 1] - allv[pos[has2] - 2])
        for j, w in enumerate(self.windows):
            cols = slice(3 + j * len(_STATS), 3 + (j + 1) * len(_STATS))
            full = np.flatnonzero(pos >= w)
            if full.size:
                views = sliding_window_view(allv, w)
                for lo in range(0, full.size, _CHUNK_ROWS):
                    idx = full[lo : lo + _CHUNK_ROWS]
                    rows = np.ascontiguousarray(views[pos[idx] - w])
                    out[idx, cols] = self._stats(rows, vals[idx])
            for i in np.flatnonzero(pos < w):  # the first points of a fresh window: partial windows
                p = int(pos[i])
                out[i, cols] = self._stats(allv[max(0, p - w) : p][None, :], vals[i : i + 1])[0]
        tail = slice(3 + len(self.windows) * len(_STATS), None)
        fallback = out[:, self._longest_mean].tolist()
        for i, (t, v) in enumerate(zip(ts, vals.tolist(), strict=True)):
            hour, week_hour = _wall_clock(t)
            out[i, tail] = self._step(v, epoch_seconds(t), hour, week_hour, fallback[i])
        self._past.extend(vals[-self.windows[-1] :].tolist())
        self._n_seen += n
        return out

    def get_state(self) -> dict[str, Any]:
        """Plain, JSON-serialisable state to resume from."""
        return {
            "config": self._config(),
            "past": list(self._past),
            "n_seen": self._n_seen,
            "first_s": self._first_s,
            "last_value": self._last_value,
            "last_change_s": self._last_change_s,
            "daily": [list(b) for b in self._daily],
            "weekly": [list(b) for b in self._weekly],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if state["config"] != self._config():
            raise ValueError(f"feature state was saved with {state['config']}, this window is {self._config()}")
        self._reset()
        self._past.extend(float(v) for v in state["past"])
        self._n_seen = int(state["n_seen"])
        self._first_s = state["first_s"]
        self._last_value = state["last_value"]
        self._last_change_s = state["last_change_s"]
        self._daily = [[int(c), float(m)] for c, m in state["daily"]]
        self._weekly = [[int(c), float(m)] for c, m in state["weekly"]]

    # ------------------------------------------------------------------ internals

    def _config(self) -> dict[str, Any]:
        return {
            "windows": list(self.windows),
            "profiles": self.profiles,
            "profile_alpha": self.profile_alpha,
            "profile_min_periods": self.profile_min_periods,
            "z_clip": self.z_clip,
            "max_since_change_s": self.max_since_change_s,
        }

    def _reset(self) -> None:
        self._past: deque[float] = deque(maxlen=self.windows[-1])
        self._n_seen = 0
        self._first_s: float | None = None
        self._last_value: float | None = None
        self._last_change_s: float | None = None
        self._daily: list[list[Any]] = [[0, 0.0] for _ in range(24)]
        self._weekly: list[list[Any]] = [[0, 0.0] for _ in range(168)]

    def _stats(self, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """mean, std, min, max and clipped z of each value against its row of past points.

        `rows` is C-contiguous (m, w); the reductions run along each row, so a row gives the
        same numbers whether it comes alone or among many. An empty row (no past yet) gives
        (value, 0, value, value, 0).
        """
        m = rows.shape[0]
        out = np.empty((m, len(_STATS)))
        if rows.shape[1] == 0:
            out[:, 0] = values
            out[:, 1] = 0.0
            out[:, 2] = values
            out[:, 3] = values
            out[:, 4] = 0.0
            return out
        rows = np.ascontiguousarray(rows)
        mean = np.add.reduce(rows, axis=1) / rows.shape[1]
        dev = rows - mean[:, None]
        std = np.sqrt(np.add.reduce(dev * dev, axis=1) / rows.shape[1])
        floor = 1e-12 + 1e-9 * np.abs(mean)
        z = (values - mean) / np.maximum(std, floor)
        out[:, 0] = mean
        out[:, 1] = std
        out[:, 2] = np.minimum.reduce(rows, axis=1)
        out[:, 3] = np.maximum.reduce(rows, axis=1)
        out[:, 4] = np.minimum(np.maximum(z, -self.z_clip), self.z_clip)
        return out

    def _step(self, v: float, secs: float, hour: int, week_hour: int, fallback_mean: float) -> list[float]:
        """Profile residuals and time since the last change for one point, then learn it."""
        if self._first_s is None:
            self._first_s = secs
        if self._last_value is None or v != self._last_value or self._last_change_s is None:
            self._last_change_s = secs
        since = min(secs - self._last_change_s, self.max_since_change_s)
        self._last_value = v
        if not self.profiles:
            return [since]
        span = secs - self._first_s
        residuals = []
        for buckets, b, period in ((self._daily, hour, _DAY_S), (self._weekly, week_hour, _WEEK_S)):
            bucket = buckets[b]
            ready = bucket[0] > 0 and span >= self.profile_min_periods * period
            residuals.append(v - bucket[1] if ready else v - fallback_mean)
            bucket[0] += 1
            bucket[1] += max(self.profile_alpha, 1.0 / bucket[0]) * (v - bucket[1])
        return [residuals[0], residuals[1], since]

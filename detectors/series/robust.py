"""Robust multi-feature novelty detector: the default univariate series detector.

The idea in one paragraph: describe every point by a dozen cheap *features* — the value, its
first difference, short-window means at several scales, the local volatility, how long the value
has been stuck, the residual against the same time on previous days and weeks, and the distance
of the recent trajectory to its nearest neighbour in the history — and ask, for each feature,
*how rare is this number compared with what this feature did over the recent history of this
very series?* Rarity is a tail probability read off the feature's own rolling empirical
distribution: an exact order-statistic count inside the observed range, and beyond it a
generalised Pareto tail fitted by moments to the most extreme values, its scale floored at a
fraction of the interquartile range (short or autocorrelated histories must not claim absurd
certainty). There is no distributional assumption and no per-series scale, so "rare for THIS
series" is what scores high, and one threshold means about the same false-alarm rate on very
different series (Gaussian, autoregressive, random-walk, Poisson or lognormal noise all stay
below S = 10 — score 0.55 — on more than 99.9 % of points). The point's surprise is the largest
per-feature surprise ``S = -ln p``; a refractory step lets the onset of an event speak loudly
and damps the echoes that follow; ``S / (S + scale)`` maps it smoothly into [0, 1].

What each feature is for:

* ``value``, ``diff`` — spikes and sudden jumps (extreme values, extreme first differences);
* ``mean8/32/128`` — level shifts and drifts: short-window means leaving the range such means
  have shown (a multi-scale short-versus-long distribution shift);
* ``vol`` (log of the mean absolute difference) — flat lines at its lower tail, noise bursts at
  its upper tail; ``repeat`` (run length of exactly repeated values) — a stuck sensor;
* ``seasonal``, ``seasonal_mean8/32`` — residual against the median of the same phase on the
  previous three days (daily period read off the timestamps): seasonal breaks whose values stay
  in range (a rush hour that does not happen, a holiday); ``weekly``, ``weekly_mean8`` — the
  same against one and two weeks ago (median of three neighbours, so an old spike leaves no
  ghost);
* ``pattern`` — distance of the last 32 points (as 4 block means) to the nearest trajectory of
  the history (nearest-neighbour novelty in the style of KNN-CAD / ARTime), every 8th point.

Adaptivity comes for free: every feature's reference is its own last ``history`` values,
including the anomaly once it has happened, so a new level stops being rare after a few dozen
points: a level shift is flagged at its onset and not for the rest of the file.

Everything is causal and incremental: a point is scored against the past, then learned. Per
point the work is one bisection and one list insertion per feature (O(log n) search and an
O(n) pointer memmove), so plain Python runs at tens of thousands of points per second, and
``update`` one point at a time gives bit-identical results to ``score_series`` on an array.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from datetime import datetime
from typing import Any

import numpy as np

from riskwatch.detectors.series.base import SeriesDetector

#: Tail fit: beyond the (r*k)-th most extreme value of n, k = max(1, n // TAIL_K), the tail
#: probability comes from a generalised Pareto fit to the r*r*k most extreme values.
TAIL_K = 400
TAIL_R = 4
#: Largest generalised Pareto shape (tails are exponential or heavier, never bounded; moments
#: cannot see shapes above 1/2).
XI_MAX = 0.5
#: Floor of the tail's exponential scale, as a fraction of the interquartile range over ln(r).
BODY_FRAC = 0.4
#: Surprises above this are log-compressed so the [0, 1] map never saturates to exactly 1.
COMPRESS_ABOVE = 30.0
#: Nearest-neighbour trajectory novelty: span in points, block-mean dimensions, stride.
PATTERN_SPAN = 32
PATTERN_DIM = 4
PATTERN_STRIDE = 8
#: Natural unit of the repeat run length (a longer run than ever seen by one step is ~ln 4 / unit).
REPEAT_UNIT = 0.3


def _gpd(e: float, excesses: list[float], min_scale: float) -> float:
    """-ln of the GPD survival of excess `e`; shape and scale by the method of moments."""
    k = len(excesses)
    mu = sum(excesses) / k
    var = sum((x - mu) * (x - mu) for x in excesses) / (k - 1) if k > 1 else 0.0
    xi = 0.5 * (1.0 - mu * mu / var) if var > 0.0 else 0.0
    if xi < 0.0:
        xi = 0.0
    elif xi > XI_MAX:
        xi = XI_MAX
    sigma = mu * (1.0 - xi)
    if sigma < min_scale:
        sigma = min_scale
    if xi < 1e-3:
        return e / sigma
    return math.log1p(xi * e / sigma) / xi


class _Tail:
    """Rolling empirical distribution of one feature over its last `size` values.

    ``observe(y)`` returns the surprise ``-ln p`` of `y` under the distribution so far and then
    learns `y`. ``p`` is the smaller one-sided tail probability: conformal ``(count + 1) / (n + 1)``
    inside the range, a generalised Pareto tail beyond the r*k-th extreme (see `_tail`). `unit`
    is the feature's natural resolution (1-ish for counts of repeats), added to the scale floor
    so tied extremes of discrete features do not explode.
    """

    __slots__ = ("name", "size", "fifo", "sorted", "upper", "lower", "unit", "min_n", "k2_full")

    def __init__(self, name: str, size: int, min_n: int, upper: bool = True, lower: bool = True, unit: float = 0.0) -> None:
        self.name = name
        self.size = size
        self.min_n = min_n
        self.upper = upper
        self.lower = lower
        self.unit = unit
        self.k2_full = TAIL_R * (size // TAIL_K or 1)
        self.fifo: deque[float] = deque()
        self.sorted: list[float] = []

    def observe(self, y: float) -> float:
        s = self.sorted
        n = len(s)
        i = bisect_left(s, y)
        surprise = 0.0
        if n >= self.min_n:
            hi = n - i if self.upper else n  # values >= y
            if self.lower:
                lo = bisect_right(s, y, i) if i < n and s[i] == y else i  # values <= y
            else:
                lo = n
            c = hi if hi < lo else lo
            if c >= (self.k2_full if n == self.size else TAIL_R * (n // TAIL_K or 1)):
                surprise = math.log((n + 1) / (c + 1))
            else:
                surprise = self._tail(y, n, hi, lo)
            fifo = self.fifo
            fifo.append(y)
            if n == self.size:
                old = fifo.popleft()
                j = bisect_left(s, old)
                del s[j]
                if j < i:
                    i -= 1
        else:
            self.fifo.append(y)
        s.insert(i, y)
        return surprise

    def _tail(self, y: float, n: int, hi: int, lo: int) -> float:
        """Surprise of `y` beyond the r*k-th extreme on either side (the rare path of `observe`).

        A generalised Pareto tail over the m-th extreme (m = r*r*k), fitted by moments to the top
        m excesses, gives ``-ln p``. Its scale is floored at a fraction of the interquartile
        range (plus the feature's natural `unit`): the extreme tail of a real series is never
        thinner than that, and short or strongly autocorrelated histories (the top values all
        from one excursion) would otherwise claim absurd certainty.
        """
        s = self.sorted
        k = n // TAIL_K or 1
        k2 = TAIL_R * k
        m = TAIL_R * k2
        if m > n:
            m = n
        q = n >> 2
        min_scale = (self.unit + BODY_FRAC * (s[n - 1 - q] - s[q])) / _LNR + 1e-9 * (abs(s[n >> 1]) + 1e-12)
        base = math.log((n + 1) / m)
        best = 0.0
        if hi < k2:
            u = s[n - m]
            best = base + _gpd(y - u, [v - u for v in s[n - m + 1 :]], min_scale)
        if lo < k2:
            u = s[m - 1]
            low = base + _gpd(u - y, [u - v for v in s[: m - 1]], min_scale)
            if low > best:
                best = low
        return best

    def state(self) -> list[float]:
        return list(self.fifo)

    def restore(self, values: list[float]) -> None:
        self.fifo = deque(float(v) for v in values)
        self.sorted = sorted(self.fifo)


_LNR = math.log(TAIL_R)


class _RollingMean:
    """Mean of the last `size` pushed values (running sum, recomputed exactly every 64 windows)."""

    __slots__ = ("size", "buf", "total", "since")

    def __init__(self, size: int) -> None:
        self.size = size
        self.buf: deque[float] = deque()
        self.total = 0.0
        self.since = 0

    def push(self, y: float) -> float | None:
        buf = self.buf
        buf.append(y)
        if len(buf) > self.size:
            self.total += y - buf.popleft()
        else:
            self.total += y
        self.since += 1
        if self.since >= 64 * self.size:
            self.since = 0
            self.total = math.fsum(buf)
        if len(buf) < self.size:
            return None
        return self.total / self.size

    def state(self) -> list[Any]:
        return [list(self.buf), self.total, self.since]

    def restore(self, data: list[Any]) -> None:
        self.buf = deque(float(v) for v in data[0])
        self.total = float(data[1])
        self.since = int(data[2])


def _seconds(a: Any, b: Any) -> float | None:
    """Seconds from timestamp `a` to `b`, or None when they are not datetimes."""
    try:
        delta = b - a
    except TypeError:
        return None
    if hasattr(delta, "total_seconds"):
        return float(delta.total_seconds())
    if isinstance(delta, np.timedelta64):
        return float(delta / np.timedelta64(1, "s"))
    return None


class RobustNoveltyDetector(SeriesDetector):
    """Per-feature rolling tail surprise, max-combined, with a refractory damping of echoes.

    One default configuration is meant for every series; nothing needs per-series tuning.

    history
        How many past values of each feature form its reference distribution.
    warmup
        Points seen before scores are meaningful; ``update`` returns 0 until then.
    scales
        Windows (points) of the short-window means of the value.
    vol_window
        Window of the mean absolute first difference.
    seasonal
        Use residuals against the same phase on previous days and weeks when the timestamps
        show a regular sampling interval dividing a day into 4 … ``history // 3`` steps (the
        interval is the median of the first 64 gaps).
    seasonal_scales
        Windows of the means of the daily residual (the first one also for the weekly residual).
    refractory
        Per-point decay factor of the remembered peak surprise.
    echo
        A surprise ``S`` below the decayed recent peak ``P`` is reported as ``S * (S / P) ** echo``
        (0 turns the damping off): one loud score at an event's onset, quieter echoes after it.
    scale
        Surprise at which the score is 0.5: ``score = S / (S + scale)``. With calibrated tails a
        score of 0.6 means a tail probability around e^-12 for one feature.
    features
        Feature groups to use (default: all of `FEATURES`).
    min_reference
        Values a feature must have seen before its surprise counts (weekly features: at least
        half a day more).
    """

    name = "robust"

    #: Feature groups.
    FEATURES = ("value", "diff", "mean", "vol", "repeat", "seasonal", "weekly", "pattern")

    def __init__(
        self,
        history: int = 1000,
        warmup: int = 100,
        scales: tuple[int, ...] | list[int] = (8, 32, 128),
        vol_window: int = 16,
        seasonal: bool = True,
        seasonal_scales: tuple[int, ...] | list[int] = (8, 32),
        refractory: float = 0.995,
        echo: float = 1.0,
        scale: float = 8.0,
        features: tuple[str, ...] | list[str] | None = None,
        min_reference: int = 50,
    ) -> None:
        self.history = int(history)
        self.warmup = int(warmup)
        self.scales = tuple(int(s) for s in scales)
        self.vol_window = int(vol_window)
        self.seasonal = bool(seasonal)
        self.seasonal_scales = tuple(int(s) for s in seasonal_scales)
        self.refractory = float(refractory)
        self.echo = float(echo)
        self.scale = float(scale)
        self.min_reference = int(min_reference)
        self.enabled = tuple(features) if features is not None else self.FEATURES
        if self.history < 64:
            raise ValueError("history must be at least 64 points")
        if self.warmup < 0:
            raise ValueError("warmup must be >= 0")
        if any(s < 2 for s in self.scales + self.seasonal_scales) or self.vol_window < 2:
            raise ValueError("scales, seasonal_scales and vol_window must be at least 2 points")
        if not (0.0 < self.refractory <= 1.0 and self.echo >= 0.0 and self.scale > 0.0):
            raise ValueError("need 0 < refractory <= 1, echo >= 0 and scale > 0")
        if not 16 <= self.min_reference <= self.history:
            raise ValueError("min_reference must be between 16 and history")
        unknown = set(self.enabled) - set(self.FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; known: {list(self.FEATURES)}")
        self._reset()

    # ---------------------------------------------------------------- state

    def _reset(self) -> None:
        on = set(self.enabled)
        h = self.history
        self.n = 0  # points learned
        self.period = 0  # daily period in points; 0 = none, or not known yet
        self._period_done = False
        self._deltas: list[float] = []
        self._last_ts: Any = None
        self.x: deque[float] = deque(maxlen=max(h, PATTERN_SPAN) + 1)  # raw values
        self.run = 0  # how many times in a row the value repeated exactly
        self.sums = [0.0] * len(self.scales)  # running sums of the last `scale` values
        self._since_exact = 0
        self.absd = _RollingMean(self.vol_window)
        self.res_means = [_RollingMean(s) for s in self.seasonal_scales] if "seasonal" in on else []
        self.week_means = [_RollingMean(s) for s in self.seasonal_scales[:1]] if "weekly" in on else []
        self.patterns = np.zeros((max(1, h // PATTERN_STRIDE), PATTERN_DIM))
        self.n_patterns = 0  # rows written so far; the ring index is n_patterns % len(patterns)
        m = self.min_reference
        t = self.tails = {
            "diff": _Tail("diff", h, m),
            "vol": _Tail("vol", h, m),
            "repeat": _Tail("repeat", h, m, lower=False, unit=REPEAT_UNIT),
            "value": _Tail("value", h, m),
            "seasonal": _Tail("seasonal", h, m),
            "weekly": _Tail("weekly", h, m),
            "pattern": _Tail("pattern", h, m, lower=False),
        }
        self.mean_tails = [t.setdefault(f"mean{s}", _Tail(f"mean{s}", h, m)) for s in self.scales] if "mean" in on else []
        self.res_tails = [t.setdefault(f"seasonal_mean{s}", _Tail(f"seasonal_mean{s}", h, m)) for s in self.seasonal_scales]
        self.week_tails = [t.setdefault(f"weekly_mean{s}", _Tail(f"weekly_mean{s}", h, m)) for s in self.seasonal_scales[:1]]
        self._on = {f: f in on for f in self.FEATURES}
        self.peak = 0.0
        self.last_score = 0.0
        #: The feature that gave the last point its surprise (an explanation, not state).
        self.last_reason = ""

    def _params(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "warmup": self.warmup,
            "scales": list(self.scales),
            "vol_window": self.vol_window,
            "seasonal": self.seasonal,
            "seasonal_scales": list(self.seasonal_scales),
            "refractory": self.refractory,
            "echo": self.echo,
            "scale": self.scale,
            "features": list(self.enabled),
            "min_reference": self.min_reference,
        }

    def get_state(self) -> dict[str, Any]:
        return {
            "version": 1,
            "params": self._params(),
            "n": self.n,
            "period": self.period,
            "period_done": self._period_done,
            "deltas": list(self._deltas),
            # the last timestamp only matters while the sampling interval is being estimated
            "last_ts": None if self._period_done or self._last_ts is None else _ts_to_json(self._last_ts),
            "x": list(self.x),
            "run": self.run,
            "sums": list(self.sums),
            "since_exact": self._since_exact,
            "absd": self.absd.state(),
            "res_means": [m.state() for m in self.res_means],
            "week_means": [m.state() for m in self.week_means],
            "tails": {k: t.state() for k, t in self.tails.items()},
            "patterns": self.patterns[: min(self.n_patterns, len(self.patterns))].tolist(),
            "n_patterns": self.n_patterns,
            "peak": self.peak,
            "last_score": self.last_score,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("version") != 1:
            raise ValueError("not a state of this detector (version 1)")
        params = state["params"]
        if params != self._params():
            self.__init__(**params)  # type: ignore[misc]
        self._reset()
        self.n = int(state["n"])
        self._period_done = bool(state["period_done"])
        self._set_period(int(state["period"]))
        self._deltas = [float(v) for v in state["deltas"]]
        self._last_ts = None if state.get("last_ts") is None else _ts_from_json(state["last_ts"])
        self.x.extend(float(v) for v in state["x"])
        self.run = int(state["run"])
        self.sums = [float(v) for v in state["sums"]]
        self._since_exact = int(state["since_exact"])
        self.absd.restore(state["absd"])
        for m, data in zip(self.res_means, state["res_means"], strict=True):
            m.restore(data)
        for m, data in zip(self.week_means, state["week_means"], strict=True):
            m.restore(data)
        for k, values in state["tails"].items():
            self.tails[k].restore(values)
        rows = np.asarray(state["patterns"], dtype=float).reshape(-1, PATTERN_DIM)
        self.patterns[: len(rows)] = rows
        self.n_patterns = int(state["n_patterns"])
        self.peak = float(state["peak"])
        self.last_score = float(state["last_score"])

    @property
    def warmed_up(self) -> bool:
        return self.n >= self.warmup

    # ---------------------------------------------------------------- daily period from timestamps

    def _set_period(self, period: int) -> None:
        self.period = period
        need = max(self.history, PATTERN_SPAN, 14 * period) + 1
        if self.x.maxlen != need:
            self.x = deque(self.x, maxlen=need)
        late = max(self.min_reference, period // 2)
        for tail in [self.tails["weekly"], *self.week_tails]:
            tail.min_n = late

    def _observe_ts(self, ts: Any) -> None:
        if self._last_ts is not None:
            dt = _seconds(self._last_ts, ts)
            if dt is None:  # not datetimes: no calendar, no seasonal features
                self._period_done = True
                self._last_ts = None
                return
            self._deltas.append(dt)
        self._last_ts = ts
        if len(self._deltas) >= 64:
            self._period_done = True
            self._last_ts = None
            step = float(np.median(self._deltas))
            self._deltas = []
            if self.seasonal and step > 0 and ({"seasonal", "weekly"} & set(self.enabled)):
                per_day = 86400.0 / step
                p = int(round(per_day))
                if 4 <= p <= self.history // 3 and abs(per_day - p) < 0.05 * p:
                    self._set_period(p)

    # ---------------------------------------------------------------- scoring

    def update(self, ts: datetime, value: float) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return self.last_score
        if not math.isfinite(v):
            return self.last_score
        if not self._period_done:
            self._observe_ts(ts)
        return self._step(v)

    def score_series(self, ts: list[datetime], values: np.ndarray) -> np.ndarray:
        vals = np.asarray(values, dtype=float)
        if len(ts) != len(vals):
            raise ValueError("timestamps and values differ in length")
        out = np.empty(len(vals))
        step = self._step
        isfinite = math.isfinite
        for i, v in enumerate(vals.tolist()):
            if isfinite(v):
                if not self._period_done:
                    self._observe_ts(ts[i])
                out[i] = step(v)
            else:
                out[i] = self.last_score
        return out

    def _step(self, v: float) -> float:
        """Score `v` against the past, learn it, return the score."""
        if not -1e150 < v < 1e150:  # keep differences and sums finite
            v = 1e150 if v > 0 else -1e150
        x = self.x
        nx = len(x)
        on = self._on
        tails = self.tails
        todo: list[tuple[_Tail, float]] = []
        add = todo.append
        if nx:
            prev = x[-1]
            d = v - prev
            if on["diff"]:
                add((tails["diff"], d))
            vol = self.absd.push(d if d >= 0.0 else -d)
            if vol is not None and on["vol"]:
                add((tails["vol"], math.log(vol) if vol > 1e-300 else -690.8))
            self.run = self.run + 1 if v == prev else 0
            if on["repeat"]:
                add((tails["repeat"], float(self.run)))
        if on["value"]:
            add((tails["value"], v))
        if self.mean_tails:
            sums = self.sums
            self._since_exact += 1
            if self._since_exact >= 8192:  # keep the running sums exact over long streams
                self._since_exact = 0
                for j, w in enumerate(self.scales):
                    sums[j] = math.fsum(x[-i] for i in range(1, min(w - 1, nx) + 1))
                    if nx >= w:
                        sums[j] += x[-w]
            for j, w in enumerate(self.scales):
                if nx >= w:
                    sums[j] += v - x[-w]
                    add((self.mean_tails[j], sums[j] / w))
                else:
                    sums[j] += v
                    if nx + 1 == w:
                        add((self.mean_tails[j], sums[j] / w))
        if on["pattern"] and (self.n + 1) % PATTERN_STRIDE == 0 and nx + 1 >= PATTERN_SPAN:
            dist = self._pattern(v)
            if dist is not None:
                add((tails["pattern"], dist))
        p = self.period
        if p and nx >= p:
            if self.res_means:
                if nx >= 3 * p:
                    a, b, c = x[-p], x[-2 * p], x[-3 * p]
                    ref = max(min(a, b), min(max(a, b), c))  # median of three
                elif nx >= 2 * p:
                    ref = 0.5 * (x[-p] + x[-2 * p])
                else:
                    ref = x[-p]
                r = v - ref
                add((tails["seasonal"], r))
                for m, tail in zip(self.res_means, self.res_tails):
                    mean = m.push(r)
                    if mean is not None:
                        add((tail, mean))
            if self.week_means and nx > 7 * p:
                # median of three neighbours a week (and two weeks) ago: one old spike leaves no ghost
                a, b, c = x[-7 * p - 1], x[-7 * p], x[-7 * p + 1]
                ref = max(min(a, b), min(max(a, b), c))
                if nx > 14 * p:
                    a, b, c = x[-14 * p - 1], x[-14 * p], x[-14 * p + 1]
                    ref = 0.5 * (ref + max(min(a, b), min(max(a, b), c)))
                w = v - ref
                add((tails["weekly"], w))
                for m, tail in zip(self.week_means, self.week_tails):
                    mean = m.push(w)
                    if mean is not None:
                        add((tail, mean))
        best = 0.0
        reason = ""
        for tail, f in todo:
            s_f = tail.observe(f)
            if s_f > best:
                best = s_f
                reason = tail.name
        x.append(v)
        self.n += 1
        if best > 1e12:
            best = 1e12
        if self.n <= self.warmup:
            self.last_score = 0.0
            self.last_reason = ""
            return 0.0
        if best > COMPRESS_ABOVE:  # beyond e^-30 nothing is "more certain"; keep the order only
            best = COMPRESS_ABOVE + math.log1p(best - COMPRESS_ABOVE)
        # one loud score per event: surprises below the decayed recent peak are damped
        decayed = self.peak * self.refractory
        if best >= decayed:
            out = best
            self.peak = best
        else:
            out = best * (best / decayed) ** self.echo
            self.peak = decayed
        score = out / (out + self.scale)
        self.last_score = score
        self.last_reason = reason
        return score

    def _pattern(self, v: float) -> float | None:
        """Distance from the recent trajectory (block means) to its nearest neighbour in the history."""
        x = self.x
        width = PATTERN_SPAN // PATTERN_DIM
        recent = [x[-i] for i in range(PATTERN_SPAN - 1, 0, -1)]
        recent.append(v)
        emb = np.array([math.fsum(recent[j * width : (j + 1) * width]) / width for j in range(PATTERN_DIM)])
        rows = self.patterns
        cap = len(rows)
        have = min(self.n_patterns, cap)
        skip = PATTERN_SPAN // PATTERN_STRIDE  # the most recent rows overlap the current window
        dist = None
        if have > skip:
            idx = (self.n_patterns - 1 - np.arange(skip, have)) % cap
            diff = rows[idx] - emb
            dist = math.sqrt(float(np.min(np.einsum("ij,ij->i", diff, diff))))
        rows[self.n_patterns % cap] = emb
        self.n_patterns += 1
        return dist


class DefaultDetector(RobustNoveltyDetector):
    """The detector `riskwatch score` uses when none is named: `RobustNoveltyDetector` as shipped."""

    name = "default"


def _ts_to_json(ts: Any) -> Any:
    if isinstance(ts, datetime):
        return {"datetime": ts.isoformat()}
    if isinstance(ts, np.datetime64):
        return {"datetime64": str(ts)}
    return None


def _ts_from_json(data: Any) -> Any:
    if isinstance(data, dict) and "datetime" in data:
        return datetime.fromisoformat(data["datetime"])
    if isinstance(data, dict) and "datetime64" in data:
        return np.datetime64(data["datetime64"])
    return None

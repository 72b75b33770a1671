"""Bursts: many related reports close together in space and time, before hourly counts move.

A prospective space-time scan in the spirit of Kulldorff's, kept simple enough for a stream:
for each new hotline / 110 report, count the reports of the same category (or category group)
and source that happened within `radius_m` of it and within the last `window` of event time.
The expected count for that disc and window comes from a slowly decaying background rate
per spatial cell, learned from the same stream; the Poisson tail probability of seeing at
least the observed count given the expectation decides whether it is a burst.

Space: reports with coordinates (110) are binned into square cells of side `radius_m` on a
local flat projection; a query looks at the 3 × 3 cells around the report and keeps those
within the radius. Reports without coordinates (hotline work orders) are placed by their
street code: the street is the cell and the "disc".

Time: event time throughout. A report is kept in the window structures until the watermark
(the latest event time seen) has moved `window + lateness` past it; then it leaves the window
and is added to the background. The background therefore never contains the cluster it is
judging, and memory is bounded by the report rate times `window + lateness` plus one decayed
counter per active cell. A report that is already older than that horizon when it arrives is
only learned into the background.

The background rate of a cell is its decayed count divided by the decay-weighted time the
stream has covered; no burst is signalled until that covers `warmup`, and the expectation
never drops below `min_expected`, so a handful of reports where none were ever seen needs
`min_events` and a tiny p, not just a zero baseline. The score rises with -log10 p: 0.5 at
`p_threshold`, each further factor of `p_threshold` halving the distance to 1.

One signal per cluster per window: a new candidate that shares at least half of its evidence
with a cluster already signalled within the window is quiet unless it has grown by
`regrow_factor`.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter

from riskwatch.config.detector_params import BurstConfig
from riskwatch.config.models import TaxonomyConfig
from riskwatch.contracts import Event, Signal, SignalKind
from riskwatch.detectors.base import excess_to_score, make_signal
from riskwatch.detectors.wording import Names

EARTH_RADIUS_M = 6_371_000.0
# Area of a disc of radius r over the 3 × 3 block of cells of side r around it.
_DISC_FRACTION = math.pi / 9.0
_BACKGROUND_FLOOR = 1e-3  # decayed counts below this are forgotten
_SWEEP_EVERY = 5_000  # evictions between sweeps of forgotten background cells


def poisson_tail(n: int, mu: float) -> float:
    """P(N ≥ n) for N ~ Poisson(mu), accurate for the tiny tails that matter here."""
    if n <= 0:
        return 1.0
    if mu <= 0.0:
        return 0.0
    log_mu = math.log(mu)
    if n > mu:
        # Sum the tail directly from its first term: no cancellation against 1.
        first = math.exp(-mu + n * log_mu - math.lgamma(n + 1))
        total, term, k = 1.0, 1.0, n
        while True:
            k += 1
            term *= mu / k
            total += term
            if term < 1e-12 * total:
                break
        return min(1.0, first * total)
    cdf = sum(math.exp(-mu + k * log_mu - math.lgamma(k + 1)) for k in range(n))
    return max(0.0, 1.0 - cdf)


# A report in the window: (event time s, event id, category, region code, x m, y m).
_Entry = tuple[float, str, str, str, float, float]
# A signalled cluster: (event time s, count, evidence ids).
_Emitted = tuple[float, int, frozenset[str]]


class BurstDetector:
    """Flags clusters of related reports far denser than the cell's background predicts."""

    name = "burst"

    def __init__(self, config: BurstConfig | None = None, taxonomy: TaxonomyConfig | None = None) -> None:
        self.config = config or BurstConfig()
        self._names = Names(taxonomy)
        cfg = self.config
        self._sources = frozenset(cfg.sources)
        self._categories = frozenset(cfg.categories)
        self._group_of = {c: group for group, members in cfg.category_groups.items() for c in members}
        self._window_s = cfg.window.total_seconds()
        self._retention_s = self._window_s + cfg.lateness.total_seconds()
        self._radius = float(cfg.radius_m)
        self._radius2 = self._radius * self._radius
        self._decay = math.log(2.0) / cfg.background_half_life.total_seconds()
        self._warmup_s = cfg.warmup.total_seconds()
        self._cos_ref: float | None = None  # projection, fixed by the first located report
        self._t0: float | None = None
        self._watermark = -math.inf
        self._seq = 0
        # Window contents by cell key: ("p", source, group, ix, iy) or ("a", source, group, street).
        self._cells: dict[tuple, dict[int, _Entry]] = {}
        self._heap: list[tuple[float, int, tuple]] = []
        # Background per cell key: [decayed count, event time it is decayed to].
        self._background: dict[tuple, list[float]] = {}
        self._emitted: dict[tuple[str, str], list[_Emitted]] = {}
        self._evictions = 0

    # ------------------------------------------------------------------ protocol

    def warming_up(self) -> bool:
        """Until the stream has covered `warmup` (before that no burst is signalled anywhere)."""
        return self._t0 is None or self._watermark - self._retention_s - self._t0 < self._warmup_s

    def accepts(self, event: Event) -> bool:
        return event.source in self._sources and (not self._categories or event.category in self._categories)

    def observe(self, event: Event) -> list[Signal]:
        t = event.occurred_at.timestamp()
        if self._t0 is None:
            self._t0 = t
        if t > self._watermark:
            self._watermark = t
            self._evict(t - self._retention_s)
        source = event.source.value
        group = self._group_of.get(event.category, event.category)
        located = event.lat is not None and event.lon is not None
        if located:
            x, y = self._project(event.lon, event.lat)  # type: ignore[arg-type]
            ix, iy = math.floor(x / self._radius), math.floor(y / self._radius)
            key: tuple = ("p", source, group, ix, iy)
        else:
            x = y = 0.0
            key = ("a", source, group, event.street_code or event.region_code)
        if t < self._watermark - self._retention_s:
            # Too late to be part of any open window: it only teaches the background.
            self._learn(key, t)
            return []

        if located:
            neighbours = [("p", source, group, ix + dx, iy + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
            members = self._members_near(neighbours, t, x, y)
        else:
            neighbours = [key]
            members = self._members_in(key, t)
        self._insert(key, (t, event.event_id, event.category, event.region_code, x, y))

        count = len(members) + 1
        if count < self.config.min_events or self._watermark - self._retention_s - self._t0 < self._warmup_s:
            return []
        expected = self._expected(neighbours, t) * (_DISC_FRACTION if located else 1.0)
        expected = max(expected, self.config.min_expected)
        p = poisson_tail(count, expected)
        if p > self.config.p_threshold:
            return []
        members.sort()
        evidence = [m[1] for m in members] + [event.event_id]
        if not self._new_or_grown((source, group), t, count, evidence):
            return []
        return [self._signal(event, located, members, count, expected, p, evidence)]

    # ------------------------------------------------------------------ space

    def _project(self, lon: float, lat: float) -> tuple[float, float]:
        """Metres on a flat projection around the first latitude seen (fine at city scale)."""
        if self._cos_ref is None:
            self._cos_ref = math.cos(math.radians(lat))
        return (
            math.radians(lon) * EARTH_RADIUS_M * self._cos_ref,
            math.radians(lat) * EARTH_RADIUS_M,
        )

    def _members_near(self, keys: list[tuple], t: float, x: float, y: float) -> list[_Entry]:
        lo, r2 = t - self._window_s, self._radius2
        found: list[_Entry] = []
        for key in keys:
            cell = self._cells.get(key)
            if not cell:
                continue
            for entry in cell.values():
                te = entry[0]
                if lo < te <= t and (entry[4] - x) ** 2 + (entry[5] - y) ** 2 <= r2:
                    found.append(entry)
        return found

    def _members_in(self, key: tuple, t: float) -> list[_Entry]:
        cell = self._cells.get(key)
        if not cell:
            return []
        lo = t - self._window_s
        return [entry for entry in cell.values() if lo < entry[0] <= t]

    # ------------------------------------------------------------------ window and background

    def _insert(self, key: tuple, entry: _Entry) -> None:
        self._seq += 1
        self._cells.setdefault(key, {})[self._seq] = entry
        heapq.heappush(self._heap, (entry[0], self._seq, key))

    def _evict(self, horizon: float) -> None:
        """Move every report older than `horizon` out of the window and into the background."""
        heap = self._heap
        while heap and heap[0][0] < horizon:
            te, seq, key = heapq.heappop(heap)
            cell = self._cells.get(key)
            if cell is not None:
                cell.pop(seq, None)
                if not cell:
                    del self._cells[key]
            self._learn(key, te)
            self._evictions += 1
            if self._evictions % _SWEEP_EVERY == 0:
                self._sweep(horizon)

    def _learn(self, key: tuple, te: float) -> None:
        slot = self._background.get(key)
        if slot is None:
            self._background[key] = [1.0, te]
        elif te >= slot[1]:
            slot[0] = slot[0] * math.exp(-self._decay * (te - slot[1])) + 1.0
            slot[1] = te
        else:
            slot[0] += math.exp(-self._decay * (slot[1] - te))

    def _sweep(self, now: float) -> None:
        """Forget background cells whose decayed count has fallen to nothing, and closed clusters."""
        decay = self._decay
        stale = [k for k, (v, last) in self._background.items() if v * math.exp(-decay * max(0.0, now - last)) < _BACKGROUND_FLOOR]
        for key in stale:
            del self._background[key]
        for group_key in list(self._emitted):
            kept = [e for e in self._emitted[group_key] if e[0] >= now]
            if kept:
                self._emitted[group_key] = kept
            else:
                del self._emitted[group_key]

    def _expected(self, keys: list[tuple], t: float) -> float:
        """Expected reports in `keys` over one window at time t, from the decayed background."""
        decayed = 0.0
        for key in keys:
            slot = self._background.get(key)
            if slot is not None:
                decayed += slot[0] * math.exp(-self._decay * (t - slot[1]))
        if decayed == 0.0:
            return 0.0
        # Exposure: the decay-weighted time the background has covered, from the stream's start
        # to the horizon up to which reports have been moved into it.
        assert self._t0 is not None
        horizon = self._watermark - self._retention_s
        exposure = 0.0
        if horizon > self._t0:
            d = self._decay
            exposure = (math.exp(-d * (t - horizon)) - math.exp(-d * (t - self._t0))) / d
        return decayed / exposure * self._window_s if exposure > 0 else 0.0

    # ------------------------------------------------------------------ signals

    def _new_or_grown(self, group_key: tuple[str, str], t: float, count: int, evidence: list[str]) -> bool:
        """Whether this cluster has not been signalled within the window, or has grown enough since."""
        ids = frozenset(evidence)
        horizon = self._watermark - self._retention_s
        emitted = [e for e in self._emitted.get(group_key, ()) if e[0] >= horizon]
        self._emitted[group_key] = emitted
        for i, (te, n, seen) in enumerate(emitted):
            if te <= t - self._window_s or te > t:
                continue
            if len(ids & seen) * 2 >= min(len(ids), len(seen)):
                if count < n * self.config.regrow_factor:
                    return False
                emitted[i] = (t, count, ids)
                return True
        emitted.append((t, count, ids))
        return True

    def _signal(
        self, event: Event, located: bool, members: list[_Entry], count: int, expected: float, p: float, evidence: list[str]
    ) -> Signal:
        cfg = self.config
        # The centre is the region most of the cluster is in, the triggering report winning ties.
        regions = Counter([event.region_code] + [m[3] for m in members])
        centre = regions.most_common(1)[0][0]
        category = Counter([event.category] + [m[2] for m in members]).most_common(1)[0][0]
        t = event.occurred_at.timestamp()
        first = min([t] + [m[0] for m in members])
        minutes = max(1, math.ceil((t - first) / 60.0))
        where = f"半径 {cfg.radius_m:g} m 范围内" if located else f"街道 {centre} 内"
        district = centre[:6] if len(centre) >= 6 else event.district_code
        log_p = -math.log10(max(p, 1e-300))
        score = excess_to_score(log_p, -math.log10(cfg.p_threshold))
        return make_signal(
            self.name,
            SignalKind.burst,
            event,
            (event.source.value, category, centre, evidence[0], count),
            region_code=centre,
            district_code=district,
            category=category,
            score=score,
            observed=float(count),
            expected=round(expected, 4),
            reason=(
                f"{minutes} 分钟内{where} {count} 起 {self._names.reports(category, event.source)}，"
                f"预期 {expected:.2g} 起（泊松 p 值 {p:.1e} ≤ {cfg.p_threshold:g}）"
            ),
            evidence=evidence[-cfg.max_evidence :],
        )

    # ------------------------------------------------------------------ introspection

    def memory_size(self) -> dict[str, int]:
        """How much state is held: reports in the window, background cells, signalled clusters."""
        return {
            "window_reports": sum(len(c) for c in self._cells.values()),
            "heap": len(self._heap),
            "background_cells": len(self._background),
            "signalled_clusters": sum(len(v) for v in self._emitted.values()),
        }

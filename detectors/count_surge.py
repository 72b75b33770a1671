"""Count surges: reports per (source, category, region) in event-time buckets vs a rolling baseline.

A bucket is a surge when its count stands `z_threshold` spreads above the mean of the buckets
before it and, with `rhythm` on, when it is as improbable as that for a Poisson count at the
mean scaled by the source's current volume against its mean volume over the same buckets. A
day's mean is half a peak hour's rate, and the spread floor of 1 makes 4 reports against a mean
of 0.3 look like z 3.7 where the Poisson tail at the peak rate is a one-in-a-few-hundred event:
over every street and category of a city that is several false surges a day. The score comes
from the smaller of the two deviations.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from statistics import NormalDist
from typing import Any

from riskwatch.config.detector_params import CountSurgeConfig
from riskwatch.config.models import TaxonomyConfig
from riskwatch.contracts import Event, Signal, SignalKind
from riskwatch.detectors.base import excess_to_score, make_signal
from riskwatch.detectors.bucket_counts import BucketCounts, CountSeries
from riskwatch.detectors.wording import Names


def region_at_level(event: Event, level: str) -> str:
    """The code of the grid, street or district the event is in, at the configured level."""
    if level == "district":
        return event.district_code
    if level == "street":
        return event.street_code or event.district_code
    return event.region_code


class CountSurgeDetector:
    """Flags a bucket whose count is far above the mean of the buckets before it.

    Buckets are placed by event time, so late reports land where they happened. Empty buckets
    since a series began count as zeros. The spread is at least the Poisson spread √mean and at
    least 1, so a couple of reports in a quiet street are never a surge; `min_count` sets a floor.
    """

    name = "count_surge"
    MAX_EVIDENCE = 20

    def __init__(self, config: CountSurgeConfig, taxonomy: TaxonomyConfig | None = None) -> None:
        self.config = config
        self._names = Names(taxonomy)
        self._bucket_s = config.bucket.total_seconds()
        self._counts: BucketCounts[CountSeries] = BucketCounts(CountSeries, max_evidence=self.MAX_EVIDENCE, keep="last")
        #: Source → bucket → reports of that source in any category and region (its volume).
        self._volume: defaultdict[str, dict[int, int]] = defaultdict(dict)

    def warming_up(self) -> bool:
        """Until some series has `warmup_buckets` of history behind the newest bucket seen."""
        series = self._counts.series
        if not series:
            return True
        newest = max((max(s.counts) for s in series.values() if s.counts), default=None)
        oldest = min(s.first_bucket for s in series.values())
        return newest is None or newest - oldest < self.config.warmup_buckets

    def accepts(self, event: Event) -> bool:
        return event.source in self.config.sources

    def observe(self, event: Event) -> list[Signal]:
        bucket = int(event.occurred_at.timestamp() // self._bucket_s)
        region = region_at_level(event, self.config.region_level)
        _key, series, count, _newer = self._counts.add(event, region, bucket)
        self._prune(series, bucket)
        volume = self._volume[event.source.value]
        volume[bucket] = volume.get(bucket, 0) + 1
        if len(volume) > 2 * self.config.history_buckets + 8:
            for old in [b for b in volume if b < bucket - self.config.history_buckets - 8]:
                del volume[old]
        if bucket - series.first_bucket < self.config.warmup_buckets or count < self.config.min_count:
            return []
        lo = max(series.first_bucket, bucket - self.config.history_buckets)
        history = [series.counts.get(b, 0) for b in range(lo, bucket)]
        mean = statistics.fmean(history)
        spread = max(statistics.pstdev(history), math.sqrt(mean), 1.0)
        z = (count - mean) / spread
        if z < self.config.z_threshold:
            return []
        rhythm = self._rhythm(event.source.value, series, lo, bucket) if self.config.rhythm else 1.0
        if self.config.rhythm:
            z = min(z, poisson_z(count, mean * rhythm))
            if z < self.config.z_threshold:
                return []
        # A baseline shorter than its window has not seen a whole day's rhythm yet: the surge is
        # trusted alone only if it would stand even had the baseline held one report more.
        short = bucket - series.first_bucket < self.config.history_buckets
        pessimistic = (sum(history) + 1) / len(history) * rhythm
        warming = short and poisson_z(count, pessimistic) < self.config.z_threshold
        return [self._signal(event, region, bucket, count, mean, z, series.evidence[bucket], warming=warming)]

    def _rhythm(self, source: str, series: CountSeries, lo: int, bucket: int) -> float:
        """The source's volume now against its mean over the baseline's buckets (1 without a baseline).

        The volume leaves the series itself out, so a surge does not raise its own expectation.
        "Now" is the larger of the last two whole buckets' mean and the current bucket so far:
        a volume that is still rising is not yet in the whole buckets.
        """
        volume = self._volume.get(source, {})

        def others(b: int) -> int:
            return volume.get(b, 0) - series.counts.get(b, 0)

        base = statistics.fmean(others(b) for b in range(lo, bucket)) if bucket > lo else 0.0
        if base <= 0:
            return 1.0
        recent = statistics.fmean(others(b) for b in range(max(lo, bucket - 2), bucket))
        return max(recent, others(bucket)) / base

    def get_state(self) -> dict[str, Any]:
        """Counts and evidence of every series and the sources' volumes, as JSON-serialisable plain data."""
        counts = self._counts
        return {
            "version": 1,
            "stream_start": counts.stream_start_state(),
            "series": [counts.series_state(key, s) for key, s in counts.series.items()],
            "volume": {source: sorted(buckets.items()) for source, buckets in self._volume.items()},
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from `get_state()` output (after a JSON round trip too; a state without volumes
        resumes with none: the rhythm is 1 until they have built up)."""
        if state.get("version") != 1:
            raise ValueError(f"unknown count_surge state version {state.get('version')!r}")
        self._counts.restore(state["stream_start"], state["series"])
        self._volume = defaultdict(dict)
        for source, buckets in state.get("volume", {}).items():
            self._volume[source] = {int(b): int(n) for b, n in buckets}

    def _prune(self, series: CountSeries, bucket: int) -> None:
        if len(series.counts) > self.config.history_buckets + 8:
            self._counts.forget_before(series, bucket - self.config.history_buckets - 1)

    def _signal(
        self, event: Event, region: str, bucket: int, count: int, mean: float, z: float, evidence: list[str], *, warming: bool
    ) -> Signal:
        minutes = int(self._bucket_s // 60)
        return make_signal(
            self.name,
            SignalKind.surge,
            event,
            (event.source.value, event.category, region, bucket, count),
            region_code=region,
            score=excess_to_score(z, self.config.z_threshold),
            observed=float(count),
            expected=round(mean, 3),
            reason=(
                f"{minutes} 分钟内 {count} 起 {self._names.reports(event.category, event.source)}，"
                f"预期 {mean:.2f} 起（z 值 {z:.1f} ≥ {self.config.z_threshold:g}）"
            ),
            evidence=evidence,
            warming=warming,
        )


def poisson_z(count: int, rate: float) -> float:
    """The upper-tail probability of `count` or more for a Poisson count at `rate`, as a normal z-score.

    Infinite at rate 0 (nothing was expected: the other deviation decides); computed in log
    space, so a tail far below the smallest float still gives a finite, ordered z.
    """
    if rate <= 0:
        return math.inf
    log_rate = math.log(rate)
    terms = []
    for k in range(count, count + 400):
        terms.append(-rate + k * log_rate - math.lgamma(k + 1))
        if k > rate and terms[-1] < terms[0] - 40:
            break
    top = max(terms)
    log_p = top + math.log(math.fsum(math.exp(t - top) for t in terms))
    if log_p >= math.log(0.5):
        return 0.0
    if log_p > -690:
        return -NormalDist().inv_cdf(math.exp(log_p))
    return math.sqrt(-2.0 * log_p)  # the tail's leading order, past what inv_cdf takes

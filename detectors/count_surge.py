"""Count surges: reports per (source, category, region) in event-time buckets vs a rolling baseline."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from riskwatch.config.detector_params import CountSurgeConfig
from riskwatch.contracts import Event, Signal, SignalKind
from riskwatch.detectors.base import excess_to_score, make_signal


@dataclass
class _Series:
    """One count series: bucket index → count, and the first bucket it was seen in."""

    first_bucket: int
    counts: dict[int, int] = field(default_factory=dict)
    evidence: dict[int, list[str]] = field(default_factory=dict)


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

    def __init__(self, config: CountSurgeConfig) -> None:
        self.config = config
        self._bucket_s = config.bucket.total_seconds()
        self._series: dict[tuple[str, str, str], _Series] = {}
        self._stream_start: dict[tuple[str, str], int] = {}

    def warming_up(self) -> bool:
        """Until some series has `warmup_buckets` of history behind the newest bucket seen."""
        if not self._series:
            return True
        newest = max((max(s.counts) for s in self._series.values() if s.counts), default=None)
        oldest = min(s.first_bucket for s in self._series.values())
        return newest is None or newest - oldest < self.config.warmup_buckets

    def accepts(self, event: Event) -> bool:
        return event.source in self.config.sources

    def observe(self, event: Event) -> list[Signal]:
        bucket = int(event.occurred_at.timestamp() // self._bucket_s)
        region = region_at_level(event, self.config.region_level)
        # A series starts when its source was first seen in the region: zeros before the first
        # report of a category are real zeros, not missing data.
        start = self._stream_start.setdefault((event.source.value, region), bucket)
        series = self._series.get((event.source.value, event.category, region))
        if series is None:
            series = self._series[(event.source.value, event.category, region)] = _Series(first_bucket=start)
        count = series.counts.get(bucket, 0) + 1
        series.counts[bucket] = count
        series.evidence.setdefault(bucket, []).append(event.event_id)
        self._prune(series, bucket)
        if bucket - series.first_bucket < self.config.warmup_buckets or count < self.config.min_count:
            return []
        lo = max(series.first_bucket, bucket - self.config.history_buckets)
        history = [series.counts.get(b, 0) for b in range(lo, bucket)]
        mean = statistics.fmean(history)
        spread = max(statistics.pstdev(history), math.sqrt(mean), 1.0)
        z = (count - mean) / spread
        if z < self.config.z_threshold:
            return []
        return [self._signal(event, region, bucket, count, mean, z, series.evidence[bucket])]

    def get_state(self) -> dict[str, Any]:
        """Counts and evidence of every series, as JSON-serialisable plain data."""
        return {
            "version": 1,
            "stream_start": [[source, region, b] for (source, region), b in self._stream_start.items()],
            "series": [
                {
                    "key": list(key),
                    "first_bucket": s.first_bucket,
                    "counts": [[b, c] for b, c in sorted(s.counts.items())],
                    "evidence": [[b, list(ids)] for b, ids in sorted(s.evidence.items())],
                }
                for key, s in self._series.items()
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from `get_state()` output (after a JSON round trip too)."""
        if state.get("version") != 1:
            raise ValueError(f"unknown count_surge state version {state.get('version')!r}")
        self._stream_start = {(str(src), str(region)): int(b) for src, region, b in state["stream_start"]}
        self._series = {}
        for item in state["series"]:
            source, category, region = item["key"]
            self._series[(str(source), str(category), str(region))] = _Series(
                first_bucket=int(item["first_bucket"]),
                counts={int(b): int(c) for b, c in item["counts"]},
                evidence={int(b): [str(i) for i in ids] for b, ids in item["evidence"]},
            )

    def _prune(self, series: _Series, bucket: int) -> None:
        horizon = bucket - self.config.history_buckets - 1
        if len(series.counts) > self.config.history_buckets + 8:
            for old in [b for b in series.counts if b < horizon]:
                series.counts.pop(old, None)
                series.evidence.pop(old, None)

    def _signal(self, event: Event, region: str, bucket: int, count: int, mean: float, z: float, evidence: list[str]) -> Signal:
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
                f"{count} {event.source.value} reports of {event.category} in {minutes} min "
                f"vs {mean:.2f} expected (z {z:.1f} ≥ {self.config.z_threshold:g})"
            ),
            evidence=evidence[-self.MAX_EVIDENCE :],
        )

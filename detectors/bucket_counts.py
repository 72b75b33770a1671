"""Event counts per (source, category, region) series in event-time buckets.

The counting both count detectors share: `count_surge` (and the cold-start baseline of
`prophet_trend`, which is one) and `prophet_trend`. The detector places an event in its
bucket (its own width and clock) and region; this component counts it into its series and
keeps the ids of some of the events counted in each bucket, the evidence a signal cites.

A series starts when its source was first seen in its region, so the buckets before a
category's first report there are real zeros, not missing data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from riskwatch.contracts import Event

#: (source, category, region)
SeriesKey = tuple[str, str, str]


@dataclass
class CountSeries:
    """One series: count per bucket, evidence ids per bucket, its first and newest bucket."""

    first_bucket: int
    newest: int
    counts: dict[int, int] = field(default_factory=dict)
    evidence: dict[int, list[str]] = field(default_factory=dict)


S = TypeVar("S", bound=CountSeries)


class Counted(NamedTuple, Generic[S]):
    """What counting one event did."""

    key: SeriesKey
    series: S
    count: int  # the bucket's count, this event included
    newer: bool  # the event's bucket is the series' newest so far


class BucketCounts(Generic[S]):
    """Per-series bucket counts and evidence, with their state as plain data.

    `make_series(first_bucket, newest)` creates a series (a `CountSeries`, or a subclass that
    carries a detector's own per-series state). Each bucket keeps at most `max_evidence` ids:
    the first ones counted (`keep="first"`) or the latest (`keep="last"`). With
    `evidence_buckets`, evidence is kept only for buckets that many behind the newest, for
    late events; without it, for as long as the bucket's count.
    """

    def __init__(
        self,
        make_series: Callable[[int, int], S],
        *,
        max_evidence: int,
        keep: Literal["first", "last"],
        evidence_buckets: int | None = None,
    ) -> None:
        self._make = make_series
        self._max_evidence = max_evidence
        self._keep = keep
        self._evidence_buckets = evidence_buckets
        self.series: dict[SeriesKey, S] = {}
        self.stream_start: dict[tuple[str, str], int] = {}

    def add(self, event: Event, region: str, bucket: int) -> Counted[S]:
        """Count `event` into `bucket` of its (source, category, region) series."""
        source = event.source.value
        start = self.stream_start.setdefault((source, region), bucket)
        key: SeriesKey = (source, event.category, region)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = self._make(start, bucket)
        count = series.counts.get(bucket, 0) + 1
        series.counts[bucket] = count
        window = self._evidence_buckets
        if window is None or bucket >= series.newest - window:
            self._keep_evidence(series.evidence.setdefault(bucket, []), event.event_id)
        newer = bucket > series.newest
        if newer:
            series.newest = bucket
            if window is not None:
                for old in [b for b in series.evidence if b < bucket - window]:  # a handful of buckets
                    del series.evidence[old]
        return Counted(key, series, count, newer)

    def _keep_evidence(self, ids: list[str], event_id: str) -> None:
        if self._keep == "first":
            if len(ids) < self._max_evidence:
                ids.append(event_id)
            return
        ids.append(event_id)
        if len(ids) > self._max_evidence:
            del ids[: len(ids) - self._max_evidence]

    @staticmethod
    def forget_before(series: CountSeries, bucket: int) -> None:
        """Drop the counts and evidence of the series' buckets before `bucket`."""
        series.counts = {b: c for b, c in series.counts.items() if b >= bucket}
        series.evidence = {b: ids for b, ids in series.evidence.items() if b >= bucket}

    # ------------------------------------------------------------------ state

    def stream_start_state(self) -> list[list[Any]]:
        return [[source, region, b] for (source, region), b in self.stream_start.items()]

    @staticmethod
    def series_state(key: SeriesKey, series: CountSeries) -> dict[str, Any]:
        """The counting part of one series' state, JSON-serialisable."""
        return {
            "key": list(key),
            "first_bucket": series.first_bucket,
            "newest": series.newest,
            "counts": [[b, c] for b, c in sorted(series.counts.items())],
            "evidence": [[b, list(ids)] for b, ids in sorted(series.evidence.items())],
        }

    def restore(self, stream_start: list[list[Any]], series: list[dict[str, Any]]) -> list[tuple[S, dict[str, Any]]]:
        """Replace everything with saved state; each restored series with its saved item, for the
        detector's own fields."""
        self.stream_start = {(str(src), str(region)): int(b) for src, region, b in stream_start}
        self.series = {}
        restored: list[tuple[S, dict[str, Any]]] = []
        for item in series:
            source, category, region = item["key"]
            counts = {int(b): int(c) for b, c in item["counts"]}
            first = int(item["first_bucket"])
            newest = int(item["newest"]) if "newest" in item else max(counts, default=first)
            one = self._make(first, newest)
            one.counts = counts
            one.evidence = {int(b): self._trimmed([str(i) for i in ids]) for b, ids in item["evidence"]}
            self.series[(str(source), str(category), str(region))] = one
            restored.append((one, item))
        return restored

    def _trimmed(self, ids: list[str]) -> list[str]:
        return ids[: self._max_evidence] if self._keep == "first" else ids[-self._max_evidence :]

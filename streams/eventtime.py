"""Event-time admission: drop re-sends, place late events, refuse what is later than allowed.

Each (source, region key) stream has its own watermark, the latest event time seen on it. An
event older than `watermark - allowed_lateness` is too late to be placed and is refused (the
caller dead-letters and counts it). Event ids are remembered for `dedup_horizon` of event time,
so memory stays bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from riskwatch.contracts import Event, Source


class Admission(str, Enum):
    accepted = "accepted"
    duplicate = "duplicate"
    late = "late"


@dataclass
class _Seen:
    """Event ids remembered for one dedup scope, and the latest event time seen there."""

    latest: datetime | None = None
    ids: OrderedDict[str, datetime] = field(default_factory=OrderedDict)


class EventTimeGate:
    """Decides, per event, whether it is new, a re-send, or too late.

    Lateness is judged per *stream* (the order one upstream producer wrote in: a device, or a
    raw partition's records for one street), so a worker catching up on a backlog, which reads
    partitions at different paces, never mistakes another partition's progress for lateness.
    Re-sends are caught per *dedup scope* (a street), wherever the copy arrived.
    """

    def __init__(self, allowed_lateness: timedelta, dedup_horizon: timedelta) -> None:
        self.allowed_lateness = allowed_lateness
        self.dedup_horizon = max(dedup_horizon, allowed_lateness)
        self._watermarks: dict[tuple[Source, str], datetime] = {}
        self._seen: dict[tuple[Source, str], _Seen] = {}
        self.counts: dict[Admission, int] = {a: 0 for a in Admission}

    def admit(self, event: Event, stream_key: str, dedup_key: str | None = None) -> Admission:
        verdict = self._judge(event, (event.source, stream_key), (event.source, dedup_key or stream_key))
        self.counts[verdict] += 1
        return verdict

    def watermark(self, source: Source, stream_key: str) -> datetime | None:
        return self._watermarks.get((source, stream_key))

    def _judge(self, event: Event, stream: tuple[Source, str], scope: tuple[Source, str]) -> Admission:
        seen = self._seen.setdefault(scope, _Seen())
        if event.event_id in seen.ids:
            return Admission.duplicate
        watermark = self._watermarks.get(stream)
        if watermark is not None and event.occurred_at < watermark - self.allowed_lateness:
            return Admission.late
        if watermark is None or event.occurred_at > watermark:
            self._watermarks[stream] = event.occurred_at
        seen.ids[event.event_id] = event.occurred_at
        if seen.latest is None or event.occurred_at > seen.latest:
            seen.latest = event.occurred_at
            self._forget_old(seen)
        return Admission.accepted

    def _forget_old(self, seen: _Seen) -> None:
        assert seen.latest is not None
        # Ids are kept in arrival order, which is close to event-time order: pop from the
        # front until a recent one, so each advance costs only what it forgets.
        horizon = seen.latest - self.dedup_horizon
        while seen.ids:
            _oldest_id, oldest_at = next(iter(seen.ids.items()))
            if oldest_at >= horizon:
                break
            seen.ids.popitem(last=False)

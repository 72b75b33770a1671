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

from riskwatch.schemas import Event, Source


class Admission(str, Enum):
    accepted = "accepted"
    duplicate = "duplicate"
    late = "late"


@dataclass
class _Stream:
    watermark: datetime | None = None
    seen: OrderedDict[str, datetime] = field(default_factory=OrderedDict)


class EventTimeGate:
    """Decides, per event, whether it is new, a re-send, or too late."""

    def __init__(self, allowed_lateness: timedelta, dedup_horizon: timedelta) -> None:
        self.allowed_lateness = allowed_lateness
        self.dedup_horizon = max(dedup_horizon, allowed_lateness)
        self._streams: dict[tuple[Source, str], _Stream] = {}
        self.counts: dict[Admission, int] = {a: 0 for a in Admission}

    def admit(self, event: Event, key: str) -> Admission:
        stream = self._streams.setdefault((event.source, key), _Stream())
        verdict = self._judge(stream, event)
        self.counts[verdict] += 1
        return verdict

    def watermark(self, source: Source, key: str) -> datetime | None:
        stream = self._streams.get((source, key))
        return stream.watermark if stream else None

    def _judge(self, stream: _Stream, event: Event) -> Admission:
        if event.event_id in stream.seen:
            return Admission.duplicate
        if stream.watermark is not None and event.occurred_at < stream.watermark - self.allowed_lateness:
            return Admission.late
        stream.seen[event.event_id] = event.occurred_at
        if stream.watermark is None or event.occurred_at > stream.watermark:
            stream.watermark = event.occurred_at
            self._forget_old(stream)
        return Admission.accepted

    def _forget_old(self, stream: _Stream) -> None:
        assert stream.watermark is not None
        # Ids are kept in arrival order, which is close to event-time order: pop from the
        # front until a recent one, so each advance costs only what it forgets.
        horizon = stream.watermark - self.dedup_horizon
        while stream.seen:
            oldest_id, oldest_at = next(iter(stream.seen.items()))
            if oldest_at >= horizon:
                break
            stream.seen.popitem(last=False)

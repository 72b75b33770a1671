"""The worker's own health, as the command center sees it next to the warnings.

Every few seconds a worker writes one snapshot to the store (`store.health.put`):
consumer lag per topic, detectors still warming up, dead letters per minute and counters.
The API merges the snapshots of all workers and flags the feed as stale when they stop, so a
screen with no warnings because the pipeline is behind or down is never read as a quiet city.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from riskwatch.detectors.base import warming_detectors


class _Consumer(Protocol):
    def assignment(self) -> set[Any]: ...

    def highwater(self, tp: Any) -> int | None: ...

    async def position(self, tp: Any) -> int | None: ...


def component_name(app_id: str) -> str:
    """One health row per worker process: app id, host and pid."""
    return f"worker:{app_id}:{socket.gethostname()}:{os.getpid()}"


async def consumer_lag(consumer: _Consumer, topics: Collection[str]) -> dict[str, int]:
    """Messages behind per topic of `topics` over the partitions this worker owns.

    Faust's own internal topics are left out by `topics`; a partition whose end is not known
    yet counts 0.
    """
    lag: dict[str, int] = {}
    owned = (tp for tp in consumer.assignment() if tp.topic in topics)
    for tp in sorted(owned, key=lambda tp: (tp.topic, tp.partition)):
        try:
            end = consumer.highwater(tp)
            position = await consumer.position(tp)
        except Exception:  # noqa: BLE001 - a partition being revoked mid-read has no lag to report
            continue
        behind = max(0, end - position) if end is not None and position is not None else 0
        lag[tp.topic] = lag.get(tp.topic, 0) + behind
    return lag


#: Names of the detectors still warming up (the detectors' own answer; see detectors/base.py).
warming_up = warming_detectors


@dataclass
class WorkerCounters:
    """Counts the agents keep; the health beat turns them into rates."""

    events: int = 0
    signals: int = 0
    warnings: int = 0
    dead_letters: int = 0
    #: Records of events/signals skipped because their partition's state had them already.
    skipped: int = 0
    #: Escalations of missed disposal deadlines this worker's deadline rounds recorded.
    escalations: int = 0
    #: Per topic and partition, the offset after the last record an agent finished (handled or
    #: dead-lettered). Unlike committed offsets, which on events and signals wait for a snapshot,
    #: it says how far the worker has processed (`riskwatch bench` times the pipeline on it).
    processed: dict[str, dict[str, int]] = field(default_factory=dict)
    _last_dead_letters: int = 0
    _last_beat: datetime | None = None
    started_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def note_processed(self, topic: str, partition: int, offset: int) -> None:
        """Record that the agent of `topic` finished the record at `offset` of `partition`."""
        self.processed.setdefault(topic, {})[str(partition)] = offset + 1

    def dead_letters_per_min(self, now: datetime) -> float:
        """Dead letters per minute since the previous beat (0 on the first)."""
        previous, self._last_beat = self._last_beat, now
        delta, self._last_dead_letters = self.dead_letters - self._last_dead_letters, self.dead_letters
        if previous is None:
            return 0.0
        minutes = max((now - previous).total_seconds() / 60.0, 1e-6)
        return round(delta / minutes, 3)


def health_payload(
    counters: WorkerCounters, *, now: datetime, lag: dict[str, int], warming: list[str]
) -> dict[str, Any]:
    """The JSON payload of one worker health snapshot (keys the API's /api/pipeline reads)."""
    return {
        "lag": lag,
        "warming_up": warming,
        "dead_letters_per_min": counters.dead_letters_per_min(now),
        "events": counters.events,
        "signals": counters.signals,
        "warnings": counters.warnings,
        "dead_letters": counters.dead_letters,
        "skipped": counters.skipped,
        "escalations": counters.escalations,
        "processed": {topic: dict(parts) for topic, parts in counters.processed.items()},
        "started_at": counters.started_at.isoformat() if counters.started_at else None,
    }

"""The pipeline's stages as plain objects, shared by the Faust agents and offline replay.

normalize (bytes → Event | DeadLetter) → admit (event time, dedup) → detect (Event → Signals)
→ grade (Signal → Warning). Each stage keeps its own state, so the Faust app can run them in
separate agents on repartitioned streams and replay can chain them in one loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from riskwatch.alerts.grading.grader import Grader
from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import DeadLetter, Event, Signal, Source, Warning
from riskwatch.contracts.topics import EVENTS, RAW_TOPICS
from riskwatch.detectors.base import Detector, observe_all
from riskwatch.detectors.registry import build_detectors
from riskwatch.streams.eventtime import Admission, EventTimeGate
from riskwatch.streams.normalize import NormalizeError, Normalizer, region_key


@dataclass
class PipelineStats:
    """Counts a run reports at the end."""

    events_in: int = 0
    events_accepted: int = 0
    duplicates: int = 0
    late: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    signals: Counter[str] = field(default_factory=Counter)
    warning_levels: dict[str, str] = field(default_factory=dict)

    def record_warning(self, warning: Warning) -> None:
        """Remember the latest level of each warning, so a warning raised twice counts once."""
        self.warning_levels[warning.warning_id] = warning.level.value

    @property
    def warnings_by_level(self) -> dict[str, int]:
        return dict(sorted(Counter(self.warning_levels.values()).items()))

    def summary(self) -> dict[str, object]:
        return {
            "events_in": self.events_in,
            "events_accepted": self.events_accepted,
            "duplicates_dropped": self.duplicates,
            "late": self.late,
            "dead_lettered": sum(self.dead_lettered.values()),
            "dead_letter_reasons": dict(self.dead_lettered),
            "signals": dict(self.signals),
            "warnings_by_level": self.warnings_by_level,
        }


class NormalizeStage:
    """Raw bytes → Event, or a DeadLetter with the reason and where the bytes came from."""

    def __init__(self, config: CityConfig, regions: RegionIndex) -> None:
        self._normalizer = Normalizer(config, regions)

    def __call__(
        self, source: Source, raw: bytes, partition: int | None = None, offset: int | None = None
    ) -> Event | DeadLetter:
        try:
            event = self._normalizer.normalize(source, raw)
            return event if partition is None else event.model_copy(update={"raw_partition": partition})
        except NormalizeError as exc:
            return DeadLetter.of(
                reason=exc.reason,
                detail=exc.detail,
                original=raw,
                source_topic=RAW_TOPICS[source].name,
                partition=partition,
                offset=offset,
                at=datetime.now(UTC),
            )


def stream_key(event: Event) -> str:
    """The stream an event's lateness is judged in: its device (sensors) or street (reports),
    within the raw partition it was read from, i.e. the order one upstream producer wrote in.

    A gateway that flushes an hour of one device's readings is late against that device's own
    clock in that partition, not against other devices, nor against the device's readings in
    partitions a worker happens to read faster (an unkeyed producer spreads one device over
    every partition, and a worker catching up reads them at different paces).
    """
    key = event.device_id or region_key(event)
    return f"{key}/{event.raw_partition if event.raw_partition is not None else '-'}"


class DetectStage:
    """Admits events by event time and runs every detector over the accepted ones."""

    def __init__(self, config: CityConfig, detectors: list[Detector] | None = None) -> None:
        times = config.detectors.stream_time
        self.gate = EventTimeGate(times.allowed_lateness, times.dedup_horizon)
        self.detectors = (
            detectors if detectors is not None else build_detectors(config.detectors, config.taxonomy, config.stations)
        )

    def __call__(self, event: Event, partition: int | None = None, offset: int | None = None) -> tuple[list[Signal], DeadLetter | None]:
        verdict = self.gate.admit(event, stream_key(event), region_key(event))
        if verdict is Admission.duplicate:
            return [], None
        if verdict is Admission.late:
            watermark = self.gate.watermark(event.source, stream_key(event))
            return [], DeadLetter.of(
                reason="late",
                detail=(
                    f"{event.event_id} happened at {event.occurred_at.isoformat()}, more than "
                    f"{self.gate.allowed_lateness} before the watermark {watermark.isoformat() if watermark else '-'}"
                ),
                original=event.model_dump_json().encode("utf-8"),
                source_topic=EVENTS.name,
                partition=partition,
                offset=offset,
                at=datetime.now(UTC),
            )
        return observe_all(self.detectors, event), None


class Pipeline:
    """All stages chained in one process: the offline replay and the reference for the agents."""

    def __init__(self, config: CityConfig) -> None:
        regions = RegionIndex(config.regions)
        self.normalize = NormalizeStage(config, regions)
        self.detect = DetectStage(config)
        self.grader = Grader(config, regions)
        self.stats = PipelineStats()

    def process(self, source: Source, raw: bytes) -> tuple[list[Warning], list[DeadLetter]]:
        self.stats.events_in += 1
        normalized = self.normalize(source, raw)
        if isinstance(normalized, DeadLetter):
            self.stats.dead_lettered[normalized.reason] += 1
            return [], [normalized]
        signals, dead = self.detect(normalized)
        self._count_admission(dead)
        if dead is not None:
            return [], [dead]
        warnings: list[Warning] = []
        for signal in signals:
            self.stats.signals[signal.detector] += 1
            for warning in self.grader.process(signal):
                self.stats.record_warning(warning)
                warnings.append(warning)
        return warnings, []

    def _count_admission(self, dead: DeadLetter | None) -> None:
        counts = self.detect.gate.counts
        self.stats.events_accepted = counts[Admission.accepted]
        self.stats.duplicates = counts[Admission.duplicate]
        self.stats.late = counts[Admission.late]
        if dead is not None:
            self.stats.dead_lettered[dead.reason] += 1

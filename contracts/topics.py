"""Every Kafka topic riskwatch uses: name, key, value schema, retention and cleanup policy.

Operators see this table through `riskwatch topics create|describe` and the README; the
Faust app declares its topics from it, so there is one list.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskwatch.contracts.raw import Source

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic as operators need to know it."""

    name: str
    key: str
    value: str
    retention_ms: int
    compacted: bool = False

    @property
    def configs(self) -> dict[str, str]:
        """Topic-level configs for creation."""
        policy = "compact,delete" if self.compacted else "delete"
        return {"cleanup.policy": policy, "retention.ms": str(self.retention_ms)}


RAW_HOTLINE = TopicSpec("riskwatch.raw.hotline", "order_id (or none)", "hotline_record JSON", 7 * DAY_MS)
RAW_POLICE = TopicSpec("riskwatch.raw.police", "incident_id (or none)", "police_record JSON", 7 * DAY_MS)
RAW_SENSOR = TopicSpec("riskwatch.raw.sensor", "device_id (or none)", "sensor_record JSON", 7 * DAY_MS)
EVENTS = TopicSpec("riskwatch.events", "district code", "event JSON", 7 * DAY_MS)
SIGNALS = TopicSpec("riskwatch.signals", "district code", "signal JSON", 30 * DAY_MS)
WARNINGS = TopicSpec("riskwatch.warnings", "warning_id", "warning JSON (latest version per key)", 365 * DAY_MS, compacted=True)
DEADLETTER = TopicSpec("riskwatch.deadletter", "source topic", "dead_letter JSON", 30 * DAY_MS)
FEEDBACK = TopicSpec("riskwatch.feedback", "warning_id", "feedback JSON", 365 * DAY_MS)

RAW_TOPICS: dict[Source, TopicSpec] = {
    Source.hotline: RAW_HOTLINE,
    Source.police: RAW_POLICE,
    Source.sensor: RAW_SENSOR,
}

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RAW_HOTLINE,
    RAW_POLICE,
    RAW_SENSOR,
    EVENTS,
    SIGNALS,
    WARNINGS,
    DEADLETTER,
    FEEDBACK,
)


def source_of_topic(topic: str) -> Source | None:
    """Which source a raw topic carries, or None for any other topic."""
    for source, spec in RAW_TOPICS.items():
        if spec.name == topic:
            return source
    return None

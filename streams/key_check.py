"""Are the raw topics keyed so that one device's (order's, incident's) records stay in one partition?

Pure: a sample of records in, findings out (`analyse`). Reading the sample from Kafka is
`streams/key_sample.py`; `riskwatch check` and `riskwatch topics describe` print the findings.

Why it matters: a worker reads partitions at different paces (catching up after a restart, or
several workers sharing them), so records of one device spread over partitions reach the
detectors out of their event-time order, and the detectors that follow a device's series
(baseline, anomaly models, gaps) see it shuffled. The cure is on the producer's side: key each
record by its natural key (device_id, order_id, incident_id).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field

from riskwatch.contracts import Source

__all__ = [
    "NATURAL_KEY",
    "NOUNS",
    "CheckReport",
    "Finding",
    "KeySpread",
    "OtherKey",
    "SampledRecord",
    "TopicFindings",
    "TopicSample",
    "analyse",
]

#: The value field each raw topic should be keyed by.
NATURAL_KEY: dict[Source, str] = {Source.hotline: "order_id", Source.police: "incident_id", Source.sensor: "device_id"}
#: What one natural key names, and what its records are, in an operator's words.
NOUNS: dict[Source, tuple[str, str, str]] = {
    Source.hotline: ("order", "orders", "sends"),
    Source.police: ("incident", "incidents", "sends"),
    Source.sensor: ("device", "devices", "readings"),
}
#: A grouping whose spread over partitions is shown for information only: 12345 orders are
#: keyed by order id, so a street's orders are spread by design, and their lateness is judged
#: per street within each partition (streams/pipeline.stream_key).
_INFO_GROUPING: dict[Source, tuple[str, str]] = {Source.hotline: ("street_code", "streets")}
#: How many scattered keys and foreign keys a finding names.
EXAMPLES = 5

Severity = Literal["problem", "note", "info"]


class SampledRecord(BaseModel):
    """One record read from a raw topic: where it was, its key and value bytes."""

    model_config = ConfigDict(frozen=True)

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class TopicSample(BaseModel):
    """The recent records of one raw topic, as read from the broker."""

    topic: str
    exists: bool = True
    partitions: int = 0
    records: list[SampledRecord] = []
    #: False when reading stopped (time limit) before every partition's end was reached.
    complete: bool = True


class KeySpread(BaseModel):
    """A natural key seen in more than one partition: records per partition."""

    key: str
    partitions: dict[int, int]


class OtherKey(BaseModel):
    """A record keyed by something else than its natural key."""

    key: str
    natural: str


class Finding(BaseModel):
    """One line for the operator: a problem (exit 1), a note, or information."""

    severity: Severity
    text: str


class TopicFindings(BaseModel):
    """What the sample of one raw topic says about its keys."""

    source: Source
    topic: str
    natural_key: str
    exists: bool
    partitions: int
    complete: bool
    records: int
    unkeyed: int
    keyed_natural: int
    keyed_other: int
    #: Records whose value has no readable natural key (the worker dead-letters them anyway).
    unreadable: int
    other_key_examples: list[OtherKey]
    natural_keys: int
    scattered: int
    scattered_examples: list[KeySpread]
    #: The most partitions one natural key was seen in.
    max_spread: int
    info_grouping: str | None = None
    info_groups: int = 0
    info_groups_scattered: int = 0
    findings: list[Finding]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unkeyed_share(self) -> float:
        """Share of sampled records without a key (0 when nothing was sampled)."""
        return self.unkeyed / self.records if self.records else 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """No problem found: every record keyed, no natural key in more than one partition."""
        return not any(f.severity == "problem" for f in self.findings)

    def lines(self, *severities: Severity) -> list[str]:
        """The findings' texts of the given severities (all when none are given)."""
        return [f.text for f in self.findings if not severities or f.severity in severities]


class CheckReport(BaseModel):
    """Findings for every raw topic checked."""

    topics: list[TopicFindings]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.topics)


def _text(key: bytes) -> str:
    return key.decode("utf-8", errors="replace")


def _field(value: bytes | None, name: str) -> str | None:
    """A string field of a JSON object value, or None if the value is not one or lacks it."""
    if value is None:
        return None
    try:
        data: Any = json.loads(value)
    except (UnicodeDecodeError, ValueError):
        return None
    found = data.get(name) if isinstance(data, dict) else None
    return found if isinstance(found, str) and found else None


def _is_natural(key: bytes, natural: str) -> bool:
    """The key is the natural key as plain UTF-8, or as a JSON string (a JSON key serializer)."""
    text = _text(key)
    if text == natural:
        return True
    try:
        return bool(json.loads(key) == natural)
    except (UnicodeDecodeError, ValueError):
        return False


def _share(part: int, whole: int) -> str:
    share = part / whole if whole else 0.0
    return f"{share:.1%}" if 0 < share < 0.01 else f"{share:.0%}"


def _spread(key: str, counts: dict[int, int], unit: str) -> str:
    parts = ", ".join(str(p) for p in sorted(counts))
    per = "/".join(str(counts[p]) for p in sorted(counts))
    return f"{key} in partitions {parts} ({per} {unit})"


def analyse(source: Source, sample: TopicSample) -> TopicFindings:
    """Judge one raw topic's keys from a sample of its records."""
    natural_field = NATURAL_KEY[source]
    one, many, unit = NOUNS[source]
    grouping = _INFO_GROUPING.get(source)
    unkeyed = keyed_natural = keyed_other = unreadable = 0
    other_examples: list[OtherKey] = []
    by_key: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    by_group: dict[str, set[int]] = defaultdict(set)
    for record in sample.records:
        natural = _field(record.value, natural_field)
        if record.key is None:
            unkeyed += 1
        if natural is None:
            unreadable += 1
            continue
        by_key[natural][record.partition] += 1
        if grouping and (group := _field(record.value, grouping[0])):
            by_group[group].add(record.partition)
        if record.key is None:
            continue
        if _is_natural(record.key, natural):
            keyed_natural += 1
        else:
            keyed_other += 1
            if len(other_examples) < EXAMPLES:
                other_examples.append(OtherKey(key=_text(record.key), natural=natural))
    scattered = {k: dict(c) for k, c in by_key.items() if len(c) > 1}
    ranked = sorted(scattered.items(), key=lambda kv: (-len(kv[1]), -sum(kv[1].values()), kv[0]))
    examples = [KeySpread(key=k, partitions=dict(sorted(c.items()))) for k, c in ranked[:EXAMPLES]]
    max_spread = max((len(c) for c in by_key.values()), default=0)
    records = len(sample.records)

    findings: list[Finding] = []
    if not sample.exists:
        findings.append(Finding(severity="note", text="topic missing: nothing to check (run `riskwatch topics create`)"))
    elif not records:
        findings.append(Finding(severity="info", text="no records to judge"))
    if not sample.complete:
        findings.append(Finding(severity="note", text=f"sample incomplete: the time limit came after {records} records"))
    if unkeyed:
        cost = {
            Source.sensor: "the producer spreads them over the partitions, so one device's readings do not stay together",
            Source.hotline: "nothing ties an order's sends to one partition, so a re-send or correction can overtake the first",
            Source.police: "nothing ties an incident's sends to one partition, so a re-send or correction can overtake the first",
        }[source]
        if sample.partitions == 1:
            cost = "with 1 partition nothing is out of order yet; once partitions are added, " + cost
        findings.append(Finding(
            severity="problem",
            text=f"{unkeyed} of {records} records ({_share(unkeyed, records)}) have no key: {cost}; "
                 f"produce with key = {natural_field}",
        ))
    if scattered:
        named = "; ".join(_spread(e.key, e.partitions, unit) for e in examples)
        more = f"; and {len(scattered) - len(examples)} more" if len(scattered) > len(examples) else ""
        article = "An" if one[0] in "aeiou" else "A"
        effect = (", and the detectors that follow a device's series (baseline, anomaly models, gaps) see it shuffled"
                  if source is Source.sensor else "")
        findings.append(Finding(
            severity="problem",
            text=f"{len(scattered)} of {len(by_key)} {many} appear in more than one partition: {named}{more}. "
                 f"{article} {one}'s {unit} are spread over up to {max_spread} partitions: after a restart or "
                 f"with several workers they can reach the detectors out of order{effect}; "
                 f"produce with key = {natural_field}",
        ))
    if keyed_other:
        shown = ", ".join(f"key {e.key!r} on {one} {e.natural!r}" for e in other_examples[:3])
        findings.append(Finding(
            severity="note",
            text=f"{keyed_other} keyed records ({_share(keyed_other, records)}) carry a key that is not their "
                 f"{natural_field} ({shown}): harmless only while each {one} always gets the same key",
        ))
    if unreadable and records:
        findings.append(Finding(
            severity="info",
            text=f"{unreadable} records without a readable {natural_field} (not JSON, or no such field) were left out",
        ))
    groups_scattered = sum(1 for parts in by_group.values() if len(parts) > 1)
    if grouping and groups_scattered:
        findings.append(Finding(
            severity="info",
            text=f"{groups_scattered} of {len(by_group)} {grouping[1]} have {many} in more than one partition: "
                 f"expected with key = {natural_field} (lateness is judged per street within each partition)",
        ))
    return TopicFindings(
        source=source, topic=sample.topic, natural_key=natural_field, exists=sample.exists,
        partitions=sample.partitions, complete=sample.complete, records=records, unkeyed=unkeyed,
        keyed_natural=keyed_natural, keyed_other=keyed_other, unreadable=unreadable,
        other_key_examples=other_examples, natural_keys=len(by_key), scattered=len(scattered),
        scattered_examples=examples, max_spread=max_spread, info_grouping=grouping[0] if grouping else None,
        info_groups=len(by_group), info_groups_scattered=groups_scattered, findings=findings,
    )

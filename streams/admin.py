"""Operator tooling on kafka-python: create and describe riskwatch topics, tail a topic.

kafka-python 3.0 notes: topics are created from a dict (`NewTopic` is deprecated), group
offsets come from `list_group_offsets` (was `list_consumer_group_offsets`) and end offsets
from `list_partition_offsets` with `OffsetSpec`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, OffsetSpec
from kafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from pydantic import BaseModel, ValidationError, computed_field

from riskwatch.config.settings import Settings
from riskwatch.contracts import Warning
from riskwatch.contracts.topics import ALL_TOPICS, WARNINGS, TopicSpec

REPORTED_CONFIGS = ("cleanup.policy", "retention.ms")
CLIENT_ID = "riskwatch-admin"


def client_kwargs(settings: Settings | None = None) -> dict[str, Any]:
    """Security options (TLS / SASL) from Settings, as kafka-python clients take them."""
    s = settings if settings is not None else Settings()
    kwargs: dict[str, Any] = {"security_protocol": s.security_protocol}
    if s.sasl_mechanism:
        kwargs["sasl_mechanism"] = s.sasl_mechanism
    if s.sasl_username is not None:  # kafka-python uses the "plain" names for SCRAM too
        kwargs["sasl_plain_username"] = s.sasl_username
    if s.sasl_password is not None:
        kwargs["sasl_plain_password"] = s.sasl_password
    return kwargs


def _admin(bootstrap: str, settings: Settings | None) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID, **client_kwargs(settings))


# --------------------------------------------------------------------------- create


def create_topics(
    bootstrap: str, partitions: int, replication_factor: int, settings: Settings | None = None
) -> list[str]:
    """Create every riskwatch topic that is missing; return the names created (existing ones are left)."""
    with closing(_admin(bootstrap, settings)) as admin:
        existing = set(admin.list_topics())
        missing = [spec for spec in ALL_TOPICS if spec.name not in existing]
        if not missing:
            return []
        request = {
            spec.name: {
                "num_partitions": partitions,
                "replication_factor": replication_factor,
                "configs": spec.configs,
            }
            for spec in missing
        }
        result = admin.create_topics(request, raise_errors=False)
        created: list[str] = []
        for topic in result["topics"]:
            error = for_code(topic["error_code"])
            if topic["error_code"] == 0:
                created.append(topic["name"])
            elif error is not TopicAlreadyExistsError:  # a concurrent creator won: fine
                raise error(f"{topic['name']}: {topic.get('error_message') or error.__name__}")
        if created:
            admin.wait_for_topics(created, timeout_ms=30_000)
        return sorted(created, key=[s.name for s in ALL_TOPICS].index)


# --------------------------------------------------------------------------- describe


class PartitionReport(BaseModel):
    """One partition: leader, replicas and offsets."""

    partition: int
    leader: int
    replicas: list[int]
    in_sync: list[int]
    start_offset: int
    end_offset: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def messages(self) -> int:
        return max(self.end_offset - self.start_offset, 0)


class GroupLag(BaseModel):
    """A consumer group's committed offsets and lag on one topic."""

    group: str
    committed: dict[int, int]
    lag: dict[int, int]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())


class TopicReport(BaseModel):
    """What an operator needs to know about one riskwatch topic."""

    name: str
    key: str
    value: str
    exists: bool
    partitions: int = 0
    replication_factor: int = 0
    configs: dict[str, str | None] = {}
    expected_configs: dict[str, str] = {}
    partition_reports: list[PartitionReport] = []
    groups: list[GroupLag] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def messages(self) -> int:
        """Records between the start and end offsets (an upper bound on a compacted topic)."""
        return sum(p.messages for p in self.partition_reports)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def end_offsets(self) -> dict[int, int]:
        return {p.partition: p.end_offset for p in self.partition_reports}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def config_drift(self) -> dict[str, tuple[str, str | None]]:
        """Configs that differ from the topic table: name → (expected, actual); none if unknown."""
        if not self.configs:
            return {}
        return {
            k: (v, self.configs.get(k)) for k, v in self.expected_configs.items() if self.configs.get(k) != v
        }

    def lag_of(self, group: str) -> int | None:
        """Total lag of one group, or None if it has committed nothing here."""
        return next((g.total_lag for g in self.groups if g.group == group), None)


def _group_offsets(admin: KafkaAdminClient, topics: set[str]) -> dict[str, dict[TopicPartition, int]]:
    """Committed offsets on `topics` of every consumer group that has any."""
    groups = [
        g["group_id"]
        for g in admin.list_groups()
        if g.get("protocol_type", "consumer") in ("consumer", "") and g.get("group_type", "classic") != "share"
    ]
    if not groups:
        return {}
    try:
        offsets = admin.list_group_offsets(groups)
    except KafkaError:  # old broker (OffsetFetch < v8: one group per call), or one group failed
        offsets = {}
        for group in groups:
            try:
                offsets.update(admin.list_group_offsets({group: None}))
            except KafkaError:
                continue
    result: dict[str, dict[TopicPartition, int]] = {}
    for group, by_tp in offsets.items():
        ours = {tp: om.offset for tp, om in by_tp.items() if tp.topic in topics and om.offset >= 0}
        if ours:
            result[group] = ours
    return result


def _configs(admin: KafkaAdminClient, names: list[str]) -> dict[str, dict[str, str | None]]:
    """Topic configs, or none for a broker that cannot describe them (the embedded Tansu)."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, n, list(REPORTED_CONFIGS)) for n in names]
    try:
        described = admin.describe_configs(resources, config_filter="all").get("topic", {})
    except (KafkaError, ValueError):
        return {}
    return {n: {k: c.get("value") for k, c in described.get(n, {}).items()} for n in names}


def describe_topics(bootstrap: str, settings: Settings | None = None, include_configs: bool = True) -> list[TopicReport]:
    """Partitions, replication, configs, offsets and per-group lag of every riskwatch topic.

    Brokers that do not answer DescribeConfigs (the embedded Tansu) can be asked with
    `include_configs=False`; offsets and lag still come back.
    """
    with closing(_admin(bootstrap, settings)) as admin:
        existing = set(admin.list_topics())
        names = [s.name for s in ALL_TOPICS if s.name in existing]
        metadata = {t["name"]: t for t in admin.describe_topics(names)} if names else {}
        configs = _configs(admin, names) if names and include_configs else {}
        tps = [
            TopicPartition(n, p["partition_index"]) for n in names for p in metadata[n]["partitions"]
        ]
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps}) if tps else {}
        starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps}) if tps else {}
        committed = _group_offsets(admin, set(names)) if names else {}
    return [_report(spec, metadata.get(spec.name), configs, starts, ends, committed) for spec in ALL_TOPICS]


def _report(
    spec: TopicSpec,
    meta: dict[str, Any] | None,
    configs: dict[str, dict[str, str | None]],
    starts: dict[TopicPartition, Any],
    ends: dict[TopicPartition, Any],
    committed: dict[str, dict[TopicPartition, int]],
) -> TopicReport:
    base = TopicReport(name=spec.name, key=spec.key, value=spec.value, exists=meta is not None,
                       expected_configs=spec.configs)
    if meta is None:
        return base
    parts = []
    for p in sorted(meta["partitions"], key=lambda p: p["partition_index"]):
        tp = TopicPartition(spec.name, p["partition_index"])
        parts.append(PartitionReport(
            partition=tp.partition, leader=p.get("leader_id", -1), replicas=list(p.get("replica_nodes", [])),
            in_sync=list(p.get("isr_nodes", [])), start_offset=starts[tp].offset, end_offset=ends[tp].offset,
        ))
    end = {p.partition: p.end_offset for p in parts}
    groups = []
    for group, offsets in sorted(committed.items()):
        mine = {tp.partition: off for tp, off in offsets.items() if tp.topic == spec.name}
        if mine:
            lag = {p: max(end.get(p, off) - off, 0) for p, off in sorted(mine.items())}
            groups.append(GroupLag(group=group, committed=dict(sorted(mine.items())), lag=lag))
    return base.model_copy(update={
        "partitions": len(parts),
        "replication_factor": max((len(p.replicas) for p in parts), default=0),
        "configs": configs.get(spec.name, {}),
        "partition_reports": parts,
        "groups": groups,
    })


class Offsets:
    """Partition lists and one group's committed offsets, through one admin client."""

    def __init__(self, bootstrap: str, settings: Settings) -> None:
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID, **client_kwargs(settings))

    def close(self) -> None:
        self.admin.close()

    def partitions(self, names: Sequence[str]) -> list[TopicPartition]:
        described = self.admin.describe_topics(list(names))
        return sorted(TopicPartition(t["name"], p["partition_index"]) for t in described for p in t["partitions"])

    def non_empty(self, tps: Sequence[TopicPartition]) -> list[str]:
        """Topics with records in them (an exact count is not needed: the embedded broker's
        ListOffsets answers the last batch's base offset + 1 instead of the end offset)."""
        spec = {tp: OffsetSpec.EARLIEST for tp in tps}
        starts = self.admin.list_partition_offsets(spec)
        ends = self.admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
        return sorted({tp.topic for tp in tps if ends[tp].offset > starts[tp].offset})

    def starts(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        found = self.admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps})
        return {tp: found[tp].offset for tp in tps}

    def committed(self, group: str) -> dict[TopicPartition, int]:
        """Committed offsets of `group`, asked by name (the embedded broker does not list groups)."""
        try:
            offsets = self.admin.list_group_offsets({group: None})
        except KafkaError:  # no commit yet, coordinator still loading, …
            return {}
        return {tp: om.offset for tp, om in offsets.get(group, {}).items() if om.offset >= 0}



# --------------------------------------------------------------------------- tail


class TailedMessage(BaseModel):
    """One record read by `tail`, with a human-readable rendering in `text`."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: str | None
    value: Any = None
    text: str
    level: str | None = None
    colour: str | None = None


def format_warning(warning: Warning) -> str:
    """A warning as an operator reads it: level and colour, where, what, and why."""
    lines = [
        f"[{warning.level.value} {warning.colour} {warning.level.colour_zh} {warning.level.label_zh}] "
        f"{warning.msg_type.value} v{warning.version} {warning.warning_id} ({warning.status.value})",
        f"  region:   {warning.region_name} ({warning.region_code})",
        f"  category: {warning.category_name} ({warning.category})",
        f"  title:    {warning.title}",
        f"  score:    {warning.score:.2f}   sources: {', '.join(s.value for s in warning.sources)}",
    ]
    if warning.department:
        lines.append(f"  department: {warning.department}")
    lines += ["  explanation:", *(f"    - {line}" for line in warning.explanation)]
    return "\n".join(lines)


def render(topic: str, partition: int, offset: int, timestamp_ms: int | None,
           key: bytes | None, value: bytes | None) -> TailedMessage:
    """Decode one record: warnings formatted, JSON pretty-printed, anything else as text."""
    key_text = key.decode("utf-8", errors="replace") if key is not None else None
    parsed: Any = None
    level = colour = None
    head = f"── {topic}[{partition}]@{offset} key={key_text}"
    if value is None:
        body = "(tombstone)"
    else:
        try:
            parsed = json.loads(value)
        except ValueError:
            body = value.decode("utf-8", errors="replace")
        else:
            body = json.dumps(parsed, ensure_ascii=False, indent=2)
            if topic == WARNINGS.name:
                try:
                    warning = Warning.model_validate(parsed)
                except ValidationError:
                    pass
                else:
                    body, level, colour = format_warning(warning), warning.level.value, warning.colour
    return TailedMessage(topic=topic, partition=partition, offset=offset, timestamp_ms=timestamp_ms,
                         key=key_text, value=parsed, text=f"{head}\n{body}", level=level, colour=colour)


def tail(
    bootstrap: str,
    topic: str,
    from_beginning: bool = False,
    max_messages: int | None = None,
    timeout_s: float | None = None,
    group: str | None = None,
    settings: Settings | None = None,
) -> Iterator[TailedMessage]:
    """Yield a topic's records as they arrive.

    Stops after `max_messages`, or once no record came for `timeout_s` seconds (None: never).
    Without `group` nothing is committed. With one, offsets are committed and `from_beginning`
    applies only where the group has no committed offset yet.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=CLIENT_ID,
        group_id=group,
        enable_auto_commit=group is not None,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **client_kwargs(settings),
    )
    seen = 0
    try:
        consumer.subscribe([topic])
        idle_since = time.monotonic()
        while max_messages is None or seen < max_messages:
            if timeout_s is not None and time.monotonic() - idle_since >= timeout_s:
                return
            wait_ms = 1000 if timeout_s is None else max(int(min(timeout_s, 1.0) * 1000), 1)
            batches = consumer.poll(timeout_ms=wait_ms, max_records=None if max_messages is None
                                    else max_messages - seen)
            records = sorted((r for rs in batches.values() for r in rs), key=lambda r: (r.timestamp, r.partition))
            for record in records:
                idle_since = time.monotonic()
                seen += 1
                yield render(record.topic, record.partition, record.offset, record.timestamp,
                             record.key, record.value)
                if max_messages is not None and seen >= max_messages:
                    break
    finally:
        if group is not None:
            try:
                consumer.commit()
            except KafkaError:
                pass
        consumer.close(autocommit=False)

"""Read the recent records of the raw topics for the key check (kafka-python, no consumer group).

The last `per_partition` records of every partition are read, up to (at least) each partition's
end offset as it was when reading began; nothing is committed. `streams/key_check.py` judges the sample.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from kafka import KafkaConsumer, TopicPartition

from riskwatch.config.settings import Settings
from riskwatch.contracts import Source
from riskwatch.contracts.topics import RAW_TOPICS
from riskwatch.streams.admin import CLIENT_ID, client_kwargs
from riskwatch.streams.key_check import CheckReport, SampledRecord, TopicSample, analyse

__all__ = ["DEFAULT_PER_PARTITION", "check_raw_topics", "sample_topics"]

#: Records read from the end of each partition unless told otherwise.
DEFAULT_PER_PARTITION = 2000
#: Seconds to wait for the broker before giving up (kafka-python's default is 30).
DEFAULT_CONNECT_TIMEOUT_S = 10.0
#: Seconds reading may take in all before the sample is cut short (and marked incomplete).
DEFAULT_READ_TIMEOUT_S = 60.0


def sample_topics(
    bootstrap: str,
    topics: list[str],
    per_partition: int = DEFAULT_PER_PARTITION,
    settings: Settings | None = None,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
) -> dict[str, TopicSample]:
    """The last `per_partition` records of each partition of each topic (missing topics marked so).

    Raises kafka-python's `KafkaError` (e.g. `KafkaTimeoutError`) when the broker cannot be reached.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        allow_auto_create_topics=False,
        bootstrap_timeout_ms=int(connect_timeout_s * 1000),
        **client_kwargs(settings),
    )
    try:
        existing = consumer.topics()
        partitions = {t: sorted(consumer.partitions_for_topic(t) or ()) for t in topics if t in existing}
        tps = [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
        starts = consumer.beginning_offsets(tps) if tps else {}
        ends = consumer.end_offsets(tps) if tps else {}
        todo = {tp: ends[tp] for tp in tps if ends[tp] > starts[tp]}
        records: dict[str, list[SampledRecord]] = {t: [] for t in topics}
        if todo:
            consumer.assign(list(todo))
            for tp, end in todo.items():
                consumer.seek(tp, max(starts[tp], end - per_partition))
            deadline = time.monotonic() + read_timeout_s
            while todo and time.monotonic() < deadline:
                for tp, batch in consumer.poll(timeout_ms=500).items():
                    # Records past the end offset are kept: Tansu answers the last batch's base
                    # offset + 1 as the end, and the rest of that batch belongs in the sample.
                    records[tp.topic].extend(
                        SampledRecord(partition=r.partition, offset=r.offset, key=r.key, value=r.value)
                        for r in batch
                    )
                done = [tp for tp in todo if consumer.position(tp) >= todo[tp]]
                for tp in done:
                    del todo[tp]
                if done:
                    consumer.pause(*done)
        unfinished = {tp.topic for tp in todo}
        return {
            t: TopicSample(topic=t, exists=t in partitions, partitions=len(partitions.get(t, ())),
                           records=sorted(records[t], key=lambda r: (r.partition, r.offset)),
                           complete=t not in unfinished)
            for t in topics
        }
    finally:
        consumer.close(autocommit=False)


def check_raw_topics(
    bootstrap: str,
    settings: Settings | None = None,
    topics: Mapping[Source, str] | None = None,
    per_partition: int = DEFAULT_PER_PARTITION,
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
) -> CheckReport:
    """Sample and judge the raw topics (`topics`: source → topic name; default every raw topic)."""
    names = dict(topics) if topics is not None else {s: spec.name for s, spec in RAW_TOPICS.items()}
    samples = sample_topics(bootstrap, list(dict.fromkeys(names.values())), per_partition, settings,
                            connect_timeout_s, read_timeout_s)
    return CheckReport(topics=[analyse(source, samples[name]) for source, name in names.items()])

"""Before a worker consumes: move the group's committed offsets back to where its state ends.

Faust commits offsets every second; the detect and grade agents snapshot their state far less
often (`streams/state.py`). After a hard kill the committed offsets are ahead of the snapshot,
and a new worker resuming there would restore state that never saw the records in between.
So, before the worker joins its group, every committed offset of a stateful agent's topic
(`riskwatch.events`, `riskwatch.signals`) that is ahead of the snapshot is set back to the
snapshot's offset, or to the earliest retained record where the snapshot has none for that
partition. Offsets never move forward.

Kafka accepts the change only while the group has no members. A SIGKILLed worker stays a
member until its session times out, so the rewind first waits that long for the group to
empty; a group that still has live members (another worker) is left alone with a warning. A
broker that does not support the calls (the embedded Tansu may not) is logged and skipped:
the worker always starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from typing import Literal

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, NoError
from kafka.structs import OffsetAndMetadata
from pydantic import BaseModel, ConfigDict

from riskwatch.config.settings import Settings
from riskwatch.contracts import topics as T
from riskwatch.streams.admin import Offsets
from riskwatch.streams.state import TopicOffsets

log = logging.getLogger(__name__)

#: Topics whose consumers keep state in snapshots (detect: events; grade: signals).
STATEFUL_TOPICS: tuple[str, ...] = (T.EVENTS.name, T.SIGNALS.name)
#: Seconds between looks at whether the group has emptied.
MEMBERS_POLL_S = 0.5


class Rewind(BaseModel):
    """One partition's committed offset set back, and why."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    from_offset: int
    to_offset: int
    reason: Literal["snapshot", "no snapshot"]

    @property
    def records(self) -> int:
        """Records the restored state would have missed without this rewind."""
        return self.from_offset - self.to_offset

    def describe(self) -> str:
        return f"{self.topic}[{self.partition}] from {self.from_offset} to {self.to_offset} ({self.reason})"


def plan_rewinds(
    committed: Mapping[TopicPartition, int],
    snapshot: Mapping[TopicPartition, int],
    earliest: Mapping[TopicPartition, int],
) -> list[Rewind]:
    """Committed offsets to set back so the restored state sees every record after it ends.

    For each committed partition the target is the snapshot's offset, or `earliest` (the first
    retained record) where the snapshot has none; never below `earliest`, whose records are
    gone. Only a committed offset *ahead* of its target moves; partitions not in `earliest`
    (unknown to the broker) are left alone.
    """
    rewinds: list[Rewind] = []
    for tp in sorted(committed):
        if tp not in earliest:
            continue
        saved = snapshot.get(tp)
        target = max(saved if saved is not None else earliest[tp], earliest[tp])
        if committed[tp] > target:
            reason: Literal["snapshot", "no snapshot"] = "snapshot" if saved is not None else "no snapshot"
            rewinds.append(Rewind(topic=tp.topic, partition=tp.partition, from_offset=committed[tp],
                                  to_offset=target, reason=reason))
    return rewinds


def snapshot_partitions(offsets: TopicOffsets, topics: Sequence[str] = STATEFUL_TOPICS) -> dict[TopicPartition, int]:
    """A restored snapshot's `{topic: {partition: next offset}}` as TopicPartitions, for `topics`."""
    return {TopicPartition(topic, p): o for topic in topics for p, o in offsets.get(topic, {}).items()}


def group_members(admin: KafkaAdminClient, group: str) -> int | None:
    """Members the group has now; None if the broker cannot say."""
    try:
        described = admin.describe_groups([group])
    except (KafkaError, ValueError, NotImplementedError) as exc:
        log.info("cannot describe group %s (%s: %s)", group, type(exc).__name__, exc)
        return None
    found = described.get(group)
    if found is None or found.get("error"):
        return 0
    return len(found.get("members") or [])


def await_empty_group(members: Callable[[], int | None], timeout_s: float) -> int | None:
    """Members left after waiting up to `timeout_s` for the group to empty (None: unknown)."""
    deadline = time.monotonic() + timeout_s
    count = members()
    while count and time.monotonic() < deadline:
        time.sleep(MEMBERS_POLL_S)
        count = members()
    return count


def rewind_to_snapshot(
    bootstrap: str,
    settings: Settings,
    snapshot: TopicOffsets,
    wait_for_members_s: float,
    topics: Sequence[str] = STATEFUL_TOPICS,
) -> list[Rewind]:
    """Set the group's committed offsets on `topics` back to `snapshot`; return what moved.

    Logs each rewind, or why none could be made; raises only what the broker raised (the
    worker logs it and starts anyway).
    """
    group = settings.app_id
    offsets = Offsets(bootstrap, settings)
    with closing(offsets):
        tps = offsets.partitions(list(topics))
        if not tps:
            return []
        earliest = offsets.starts(tps)
        saved = snapshot_partitions(snapshot, topics)

        def plan() -> list[Rewind]:
            committed = {tp: n for tp, n in offsets.committed(group).items() if tp.topic in topics}
            return plan_rewinds(committed, saved, earliest)

        planned = plan()
        if not planned:
            log.warning("committed offsets of %s are within the restored state; nothing to rewind", group)
            return []
        # A killed worker stays a member until its session times out; a live one never leaves.
        left = await_empty_group(lambda: group_members(offsets.admin, group), wait_for_members_s)
        planned = plan()  # a member that was still alive may have committed meanwhile
        if left:
            log.warning("group %s has active members; cannot rewind; state may miss %d events (%s)",
                        group, sum(r.records for r in planned), "; ".join(r.describe() for r in planned))
            return []
        return _apply(offsets.admin, group, planned)


def _apply(admin: KafkaAdminClient, group: str, planned: list[Rewind]) -> list[Rewind]:
    """Commit the planned offsets for the group; log each partition's outcome."""
    request = {TopicPartition(r.topic, r.partition): OffsetAndMetadata(r.to_offset, "", -1) for r in planned}
    errors = admin.alter_group_offsets(group, request)
    done: list[Rewind] = []
    for rewind in planned:
        error = errors.get(TopicPartition(rewind.topic, rewind.partition), NoError)
        if error is NoError:
            log.warning("rewound %s", rewind.describe())
            done.append(rewind)
        else:
            log.warning("could not rewind %s: %s; state may miss %d events (group %s may have active members)",
                        rewind.describe(), error.__name__, rewind.records, group)
    return done

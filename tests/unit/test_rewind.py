"""The rewind decision: which committed offsets go back, to where, and what is logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import NoError, UnknownMemberIdError

from riskwatch.streams import rewind as R
from riskwatch.streams.rewind import Rewind, await_empty_group, plan_rewinds, snapshot_partitions

EV0, EV1, EV2 = (TopicPartition("riskwatch.events", p) for p in range(3))
SIG0 = TopicPartition("riskwatch.signals", 0)


def test_a_commit_ahead_of_the_snapshot_goes_back_to_it() -> None:
    planned = plan_rewinds({EV0: 1234}, {EV0: 1100}, {EV0: 0})
    assert planned == [Rewind(topic="riskwatch.events", partition=0, from_offset=1234, to_offset=1100, reason="snapshot")]
    assert planned[0].records == 134
    assert planned[0].describe() == "riskwatch.events[0] from 1234 to 1100 (snapshot)"


def test_offsets_never_move_forward() -> None:
    assert plan_rewinds({EV0: 1100, EV1: 50}, {EV0: 1100, EV1: 80}, {EV0: 0, EV1: 0}) == []


def test_a_partition_without_snapshot_offset_goes_back_to_the_earliest_record() -> None:
    planned = plan_rewinds({EV0: 500, EV1: 20, SIG0: 9}, {EV0: 400}, {EV0: 0, EV1: 5, SIG0: 9})
    assert [(r.partition, r.topic, r.to_offset, r.reason) for r in planned] == [
        (0, "riskwatch.events", 400, "snapshot"),
        (1, "riskwatch.events", 5, "no snapshot"),
    ]  # signals[0] is committed at its earliest record already


def test_a_snapshot_offset_older_than_the_retained_records_goes_to_the_earliest() -> None:
    planned = plan_rewinds({EV0: 900}, {EV0: 100}, {EV0: 300})
    assert [(r.to_offset, r.reason) for r in planned] == [(300, "snapshot")]


def test_uncommitted_or_unknown_partitions_are_left_alone() -> None:
    assert plan_rewinds({}, {EV0: 10}, {EV0: 0}) == []
    assert plan_rewinds({EV2: 10}, {}, {EV0: 0}) == []  # EV2 is not on the broker (any more)


def test_snapshot_offsets_become_topic_partitions_of_the_stateful_topics() -> None:
    offsets = {"riskwatch.events": {0: 7, 2: 9}, "riskwatch.signals": {0: 3}, "riskwatch.warnings": {0: 1}}
    assert snapshot_partitions(offsets) == {EV0: 7, EV2: 9, SIG0: 3}


def test_waiting_for_the_group_to_empty_stops_when_it_has_no_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(R, "MEMBERS_POLL_S", 0.0)
    answers = iter([1, 1, 0])
    assert await_empty_group(lambda: next(answers), timeout_s=60) == 0
    assert await_empty_group(lambda: None, timeout_s=60) is None  # the broker cannot say: do not wait
    assert await_empty_group(lambda: 1, timeout_s=0) == 1  # a live member stays


class _Admin:
    """Stands in for KafkaAdminClient: what the rewind asks and what it is answered."""

    def __init__(self, committed: dict[TopicPartition, int], members: int, error: type = NoError) -> None:
        self.committed, self.members, self.error = committed, members, error
        self.altered: dict[TopicPartition, Any] | None = None

    def describe_groups(self, groups: list[str]) -> dict[str, Any]:
        return {groups[0]: {"error": None, "members": [{"member_id": f"m{i}"} for i in range(self.members)]}}

    def alter_group_offsets(self, group: str, offsets: dict[TopicPartition, Any]) -> dict[TopicPartition, type]:
        self.altered = offsets
        return {tp: self.error for tp in offsets}


class _Offsets:
    def __init__(self, admin: _Admin) -> None:
        self.admin = admin

    def partitions(self, names: list[str]) -> list[TopicPartition]:
        return [EV0, EV1, SIG0]

    def starts(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    def committed(self, group: str) -> dict[TopicPartition, int]:
        return dict(self.admin.committed)

    def close(self) -> None:
        pass


def _rewind(monkeypatch: pytest.MonkeyPatch, admin: _Admin) -> list[Rewind]:
    from riskwatch.config.settings import Settings

    monkeypatch.setattr(R, "Offsets", lambda bootstrap, settings: _Offsets(admin))
    monkeypatch.setattr(R, "MEMBERS_POLL_S", 0.0)
    snapshot = {"riskwatch.events": {0: 1100, 1: 40}, "riskwatch.signals": {}}
    return R.rewind_to_snapshot("broker:9092", Settings(app_id="rw"), snapshot, wait_for_members_s=0)


def test_the_rewind_commits_the_planned_offsets_and_logs_each(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    admin = _Admin({EV0: 1234, EV1: 40, SIG0: 17}, members=0)
    with caplog.at_level(logging.WARNING, logger=R.__name__):
        done = _rewind(monkeypatch, admin)
    assert admin.altered is not None
    assert {tp: om.offset for tp, om in admin.altered.items()} == {EV0: 1100, SIG0: 0}
    assert [r.describe() for r in done] == ["riskwatch.events[0] from 1234 to 1100 (snapshot)",
                                           "riskwatch.signals[0] from 17 to 0 (no snapshot)"]
    assert "rewound riskwatch.events[0] from 1234 to 1100 (snapshot)" in caplog.messages


def test_a_group_with_live_members_is_left_alone_with_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    admin = _Admin({EV0: 1234, SIG0: 17}, members=1)
    with caplog.at_level(logging.WARNING, logger=R.__name__):
        assert _rewind(monkeypatch, admin) == []
    assert admin.altered is None
    assert any("has active members; cannot rewind; state may miss 151 events" in m for m in caplog.messages)


def test_a_partition_the_broker_refuses_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    admin = _Admin({EV0: 1234}, members=0, error=UnknownMemberIdError)
    with caplog.at_level(logging.WARNING, logger=R.__name__):
        assert _rewind(monkeypatch, admin) == []
    assert any("could not rewind riskwatch.events[0]" in m and "UnknownMemberIdError" in m for m in caplog.messages)


def test_nothing_is_altered_when_the_commits_are_within_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = _Admin({EV0: 1100, EV1: 12}, members=1)
    assert _rewind(monkeypatch, admin) == []
    assert admin.altered is None

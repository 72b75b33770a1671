"""The access policy, redaction and the change feed's fan-out, without HTTP."""

from __future__ import annotations

import asyncio

import pytest

from riskwatch.alerts.feed import access
from riskwatch.alerts.feed.changes import ChangeFeed, FeedEvent
from riskwatch.alerts.feed.feedback_publisher import KafkaFeedbackPublisher, NoFeedbackPublisher, publisher_for
from riskwatch.alerts.feed.redaction import redact
from riskwatch.alerts.feed.routes.stream import receives
from riskwatch.alerts.store.tokens import Identity, Role
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_model
from riskwatch.config.models import RegionsConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.config.settings import Settings
from tests.api_support import DISTRICT, GAS, STREET, WATER, api_warning

REGIONS = RegionIndex(load_model(DEFAULT_CONFIG_DIR / "regions.yaml", RegionsConfig))


def who(role: Role, department: str | None = None) -> Identity:
    return Identity(token_id="t", name=f"{role.value}-{department}", role=role, department=department)


COMMANDER, ANALYST, PUBLIC = who(Role.commander), who(Role.analyst), who(Role.public)
WATER_OPERATOR, GAS_OPERATOR = who(Role.operator, WATER), who(Role.operator, GAS)


@pytest.mark.parametrize(
    ("identity", "read", "act"),
    [
        (COMMANDER, True, True),
        (WATER_OPERATOR, True, True),
        (GAS_OPERATOR, False, False),
        (ANALYST, True, False),
        (PUBLIC, False, False),
    ],
)
def test_who_may_read_and_act_on_a_water_warning(identity: Identity, read: bool, act: bool) -> None:
    assert bool(access.may_read_warning(identity, WATER)) is read
    decision = access.may_transition(identity, WATER)
    assert bool(decision) is act
    assert decision.reason == "" if act else identity.role.value in decision.reason


def test_only_commanders_approve_change_silences_and_read_audit() -> None:
    for check in (access.may_approve, access.may_change_silences, access.may_read_audit):
        assert check(COMMANDER)
        assert not any(check(i) for i in (WATER_OPERATOR, ANALYST, PUBLIC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("王先生 13812345678 报警", "[姓名]先生 [电话] 报警"),
        ("来电 138****5678", "来电 [电话]"),
        ("身份证410105199001011234", "身份证[证件号]"),
        ("座机0371-12345678", "座机[电话]"),
        ("联系人：张三", "联系人：[姓名]"),
        ("李**反映停水", "[姓名]反映停水"),
        # a labelled name ends where the text after it says, never swallowing that text
        ("联系人张三反映", "联系人[姓名]反映"),
        ("联系人张三反映停水 13812345678", "联系人[姓名]反映停水 [电话]"),
        ("报警人李四称已停水", "报警人[姓名]称已停水"),
        ("来电人王五说水管爆了", "来电人[姓名]说水管爆了"),
        ("投诉人赵六在家", "投诉人[姓名]在家"),
        ("联系人张三家中漏水", "联系人[姓名]家中漏水"),
        ("联系人王小明反映", "联系人[姓名]反映"),
        ("联系人王小明家中漏水", "联系人[姓名]家中漏水"),
        ("联系人王志和反映", "联系人[姓名]反映"),  # 3 characters, the last a common follower
        ("姓名王小明，电话13812345678", "姓名[姓名]，电话[电话]"),
        ("户主刘德华。", "户主[姓名]。"),
        ("联系人李**投诉", "联系人[姓名]投诉"),
        ("来电人王小明水管爆裂", "来电人[姓名]水管爆裂"),  # nothing tells: the longer name is hidden
        # a label followed by a common word is no name
        ("联系人电话13812345678", "联系人电话[电话]"),
        ("报警人称有燃气味", "报警人称有燃气味"),
        ("压力 0.12 MPa 低于 0.15；网格 410105002001001", "压力 0.12 MPa 低于 0.15；网格 410105002001001"),
    ],
)
def test_redaction(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_views_per_role() -> None:
    warning = api_warning()
    assert access.view_of(warning, COMMANDER, REGIONS) == warning
    analyst = access.view_of(warning, ANALYST, REGIONS)
    assert analyst.region_code == STREET and analyst.region_name == "金水区花园路街道"
    assert [s.region_code for s in analyst.signals] == [STREET]
    public = access.view_of(warning, None, REGIONS)
    assert (public.region_code, public.region_name, public.signals) == (DISTRICT, "金水区", ())
    assert "张三" not in "".join(public.explanation)


def test_operators_stream_only_their_department() -> None:
    event = FeedEvent("transition", WATER, api_warning())  # body is not inspected by the filter
    health = FeedEvent("health", None, api_warning())
    assert receives(WATER_OPERATOR, event) and not receives(GAS_OPERATOR, event)
    assert receives(GAS_OPERATOR, health) and receives(ANALYST, event)


async def test_feed_fans_out_and_drops_a_subscriber_that_falls_behind() -> None:
    dropped: list[int] = []
    feed = ChangeFeed(maxsize=2, on_drop=lambda: dropped.append(1))
    fast, slow = feed.open(), feed.open()
    events = [FeedEvent("transition", WATER, api_warning(version=v)) for v in (1, 2, 3)]
    feed.publish(events[0])
    assert await fast.next() is events[0]
    feed.publish(events[1])
    feed.publish(events[2])  # slow now holds 2 and is full: dropped at the third
    assert feed.subscriber_count == 1 and dropped == [1]
    assert [await fast.next(), await fast.next()] == events[1:]
    assert [await slow.next(), await slow.next(), await slow.next()] == [events[0], events[1], None]
    feed.close(fast)
    feed.close(fast)
    assert feed.subscriber_count == 0


async def test_next_waits_for_a_publish() -> None:
    feed = ChangeFeed()
    subscription = feed.open()
    waiting = asyncio.create_task(subscription.next())
    event = FeedEvent("health", None, api_warning())
    await asyncio.sleep(0)  # let the waiter start: the event must wake it, not already be queued
    feed.publish(event)
    assert await waiting is event


def test_kafka_publisher_only_when_a_broker_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RISKWATCH_BROKER", raising=False)
    assert isinstance(publisher_for(Settings()), NoFeedbackPublisher)
    assert isinstance(publisher_for(Settings(broker="kafka://127.0.0.1:1")), KafkaFeedbackPublisher)


def test_public_wording_comes_from_structured_fields_only() -> None:
    from riskwatch.contracts import MsgType

    cancel = access.view_of(api_warning(msg_type=MsgType.cancel, version=2), PUBLIC, REGIONS)
    assert cancel.title == "金水区供水黄色预警[III级/较重]"
    assert cancel.explanation == ("金水区供水黄色预警解除。",)


def test_tokens_in_query_strings_are_masked_in_the_access_log() -> None:
    import logging

    from riskwatch.alerts.feed.access_log import TokenMaskingFilter

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/stream?level=I&token=rw_secret-Value&x=1", "1.1", 200), None,
    )
    assert TokenMaskingFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/stream?level=I&token=***&x=1 HTTP/1.1" 200'

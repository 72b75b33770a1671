"""The Atom feed of current CAP alerts: well-formed, linked to each CAP message, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from riskwatch.alerts.feed.atom import ATOM_NS, cap_atom_feed
from riskwatch.contracts import Level, MsgType, Source, Warning

NS = {"a": ATOM_NS}
BASE = "https://alerts.example.org/"
T0 = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


def _warning(warning_id: str, minutes: int, level: Level = Level.II) -> Warning:
    return Warning(
        warning_id=warning_id,
        version=1,
        msg_type=MsgType.alert,
        level=level,
        region_code="410105002",
        region_name="金水区花园路街道",
        district_code="410105",
        category="gas_supply",
        category_name="供气",
        title=f"金水区花园路街道供气{level.colour_zh}预警",
        first_seen=T0,
        updated_at=T0 + timedelta(minutes=minutes),
        score=0.8,
        sources=(Source.sensor,),
        explanation=("gas_limit: 甲烷浓度 2.1 %LEL 超过报警值",),
        signals=(),
    )


def _feed(entries: list[Warning]) -> etree._Element:
    xml = cap_atom_feed(entries, base_url=BASE, feed_id="urn:riskwatch:410100:cap", title="郑州市风险预警", updated=T0 + timedelta(hours=1))
    assert xml.startswith(b"<?xml")
    return etree.fromstring(xml)


def test_entries_link_to_their_cap_message_newest_first() -> None:
    feed = _feed([_warning("old", 5), _warning("newest", 30, Level.I), _warning("middle", 10)])
    entries = feed.findall("a:entry", NS)
    assert [e.findtext("a:id", namespaces=NS) for e in entries] == [
        "urn:riskwatch:warning:newest",
        "urn:riskwatch:warning:middle",
        "urn:riskwatch:warning:old",
    ]
    first = entries[0]
    links = first.findall("a:link", NS)
    assert [(link.get("rel"), link.get("type"), link.get("href")) for link in links] == [
        ("alternate", "application/cap+xml", "https://alerts.example.org/cap/newest.xml")
    ]
    assert first.findtext("a:title", namespaces=NS) == "金水区花园路街道供气红色预警"
    assert first.findtext("a:updated", namespaces=NS) == "2026-11-23T12:30:00+08:00"
    assert first.find("a:category", NS).get("term") == "I"
    assert "甲烷浓度" in first.findtext("a:summary", namespaces=NS)
    assert first.findtext("a:author/a:name", namespaces=NS) == "riskwatch"


def test_feed_head_has_the_required_elements() -> None:
    feed = _feed([_warning("a", 1)])
    assert feed.tag == f"{{{ATOM_NS}}}feed"
    assert feed.findtext("a:id", namespaces=NS) == "urn:riskwatch:410100:cap"
    assert feed.findtext("a:title", namespaces=NS) == "郑州市风险预警"
    assert feed.findtext("a:updated", namespaces=NS) == "2026-11-23T13:00:00+08:00"
    self_link = feed.find("a:link[@rel='self']", NS)
    assert self_link.get("href") == "https://alerts.example.org/cap/feed.atom"


def test_empty_feed_is_still_a_valid_feed() -> None:
    feed = _feed([])
    assert feed.findall("a:entry", NS) == []
    for required in ("a:id", "a:title", "a:updated", "a:author/a:name"):
        assert feed.findtext(required, namespaces=NS), f"{required} missing from an empty feed"


def test_naive_updated_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        cap_atom_feed([], base_url=BASE, feed_id="urn:x", title="t", updated=datetime(2026, 1, 1))

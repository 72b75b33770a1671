"""CAP 1.2 messages from warnings: valid against the vendored OASIS schema, linked by references."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from riskwatch.alerts.feed.cap import (
    CAP_NS,
    SCHEMA_PATH,
    CapBuildError,
    CapInvalid,
    CapReference,
    cap_categories,
    cap_datetime,
    cap_identifier,
    validate_cap,
    warning_to_cap,
)
from riskwatch.config import geo
from riskwatch.contracts import Level, MsgType, Source, Warning, WarningStatus

SENDER = "riskwatch@410100"
NS = {"cap": CAP_NS}
T0 = datetime(2026, 11, 23, 4, 0, 0, 250_000, tzinfo=UTC)


def _warning(
    version: int = 1,
    msg_type: MsgType = MsgType.alert,
    level: Level = Level.III,
    region: str = "410103001",
    explanation: tuple[str, ...] = ("strongest signal pressure_drop (sensor) scored 0.71", "hotline_surge: 14 calls in 30 min"),
    **changes: object,
) -> Warning:
    base = Warning(
        warning_id="w0123456789abcdef",
        version=version,
        msg_type=msg_type,
        level=level,
        region_code=region,
        region_name="二七区淮河路街道",
        district_code="410103",
        category="water_supply",
        category_name="供水",
        title=f"二七区淮河路街道供水{level.colour_zh}预警[{level.value}级/{level.label_zh}]",
        first_seen=T0,
        updated_at=T0 + timedelta(minutes=10 * (version - 1)),
        score=0.72,
        sources=(Source.hotline, Source.sensor),
        explanation=explanation,
        signals=(),
    )
    return base.model_copy(update=changes) if changes else base


def _doc(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def _text(doc: etree._Element, path: str) -> str:
    value = doc.findtext(path, namespaces=NS)
    assert value is not None, f"{path} missing"
    return value


def _refs_to(*versions: int) -> list[tuple[str, int, datetime]]:
    return [("w0123456789abcdef", v, _warning(v).updated_at) for v in versions]


@pytest.mark.parametrize("level", list(Level))
@pytest.mark.parametrize("msg_type", list(MsgType))
def test_every_level_and_message_type_validates(level: Level, msg_type: MsgType) -> None:
    version = 1 if msg_type is MsgType.alert else 2
    references = None if msg_type is MsgType.alert else _refs_to(1)
    xml = warning_to_cap(_warning(version, msg_type, level), sender=SENDER, references=references)
    validate_cap(xml)
    doc = _doc(xml)
    assert _text(doc, "cap:msgType") == msg_type.value
    assert _text(doc, "cap:info/cap:severity") == level.cap_severity
    assert _text(doc, "cap:info/cap:language") == "zh-CN"
    expected_urgency = "Past" if msg_type is MsgType.cancel else {"I": "Immediate", "II": "Immediate"}.get(level.value, "Expected")
    assert _text(doc, "cap:info/cap:urgency") == expected_urgency


def test_header_fields_follow_the_cap_profile() -> None:
    doc = _doc(warning_to_cap(_warning(), sender=SENDER))
    assert _text(doc, "cap:identifier") == f"{SENDER}:w0123456789abcdef:1"
    assert _text(doc, "cap:sent") == "2026-11-23T12:00:00+08:00"  # Beijing time, no fraction
    assert (_text(doc, "cap:status"), _text(doc, "cap:scope")) == ("Actual", "Public")
    assert doc.find("cap:references", NS) is None
    params = {p.findtext("cap:valueName", namespaces=NS): p.findtext("cap:value", namespaces=NS) for p in doc.iterfind("cap:info/cap:parameter", NS)}
    assert params == {"level": "III", "colour": "yellow", "warning_id": "w0123456789abcdef", "version": "1"}
    assert _text(doc, "cap:info/cap:headline").endswith("黄色预警[III级/较重]")
    assert _text(doc, "cap:info/cap:description").splitlines()[1] == "hotline_surge: 14 calls in 30 min"
    assert _text(doc, "cap:info/cap:certainty") == "Observed"  # two independent sources


def test_update_references_the_alert() -> None:
    alert = _doc(warning_to_cap(_warning(1), sender=SENDER))
    update_xml = warning_to_cap(_warning(2, MsgType.update, Level.II), sender=SENDER, references=_refs_to(1))
    validate_cap(update_xml)
    update = _doc(update_xml)
    assert _text(update, "cap:references") == f"{SENDER},{_text(alert, 'cap:identifier')},{_text(alert, 'cap:sent')}"
    assert _text(update, "cap:identifier") != _text(alert, "cap:identifier")


def test_cancel_references_the_last_message() -> None:
    last = _doc(warning_to_cap(_warning(2, MsgType.update, Level.II), sender=SENDER, references=_refs_to(1)))
    cancel_xml = warning_to_cap(
        _warning(3, MsgType.cancel, Level.II, status=WarningStatus.false_alarm), sender=SENDER, references=_refs_to(1, 2)
    )
    validate_cap(cancel_xml)
    cancel = _doc(cancel_xml)
    referenced = _text(cancel, "cap:references").split(" ")
    assert referenced[-1] == f"{SENDER},{_text(last, 'cap:identifier')},{_text(last, 'cap:sent')}"
    assert len(referenced) == 2
    assert _text(cancel, "cap:info/cap:responseType") == "AllClear"
    assert "误报" in _text(cancel, "cap:info/cap:instruction")


def test_update_or_cancel_without_references_is_refused() -> None:
    with pytest.raises(CapBuildError, match="must reference the earlier message"):
        warning_to_cap(_warning(2, MsgType.update), sender=SENDER)


def test_references_must_be_earlier_versions_of_the_same_warning() -> None:
    with pytest.raises(CapBuildError, match="names warning 'other'"):
        warning_to_cap(_warning(2, MsgType.update), sender=SENDER, references=[("other", 1, T0)])
    with pytest.raises(CapBuildError, match="not earlier"):
        warning_to_cap(_warning(2, MsgType.update), sender=SENDER, references=_refs_to(2))


def test_reference_to_another_senders_message() -> None:
    other = CapReference(sender="cma@gov.cn", identifier="CN-410100-2026-001", sent=T0)
    doc = _doc(warning_to_cap(_warning(2, MsgType.update), sender=SENDER, references=[other]))
    assert _text(doc, "cap:references") == "cma@gov.cn,CN-410100-2026-001,2026-11-23T12:00:00+08:00"


def test_internal_message_is_restricted_with_its_own_identifier() -> None:
    xml = warning_to_cap(_warning(), sender=SENDER, public=False)
    validate_cap(xml)
    doc = _doc(xml)
    assert _text(doc, "cap:scope") == "Restricted"
    assert _text(doc, "cap:restriction")
    assert _text(doc, "cap:identifier") == cap_identifier(SENDER, "w0123456789abcdef", 1, public=False) != cap_identifier(SENDER, "w0123456789abcdef", 1)


def test_polygon_is_the_regions_closed_ring_inside_the_city() -> None:
    doc = _doc(warning_to_cap(_warning(), sender=SENDER))
    pairs = [tuple(float(v) for v in pair.split(",")) for pair in _text(doc, "cap:info/cap:area/cap:polygon").split()]
    assert len(pairs) >= 4 and pairs[0] == pairs[-1]
    city = [tuple(p) for f in geo.load_geojson()["features"] if f["properties"]["level"] == "district" for p in f["geometry"]["coordinates"][0]]
    lons, lats = [p[0] for p in city], [p[1] for p in city]
    for lat, lon in pairs:
        assert min(lats) <= lat <= max(lats) and min(lons) <= lon <= max(lons)
    assert [(lon, lat) for lat, lon in pairs] == geo.polygon_of("410103001")


def test_area_geocodes_name_district_street_and_grid() -> None:
    doc = _doc(warning_to_cap(_warning(region="410103001001002"), sender=SENDER))
    codes = [(g.findtext("cap:valueName", namespaces=NS), g.findtext("cap:value", namespaces=NS)) for g in doc.iterfind(".//cap:geocode", NS)]
    assert codes == [("GB/T 2260", "410103"), ("GB/T 10114", "410103001"), ("riskwatch:grid", "410103001001002")]
    assert _text(doc, "cap:info/cap:area/cap:areaDesc") == "二七区淮河路街道"


def test_explicit_polygon_is_used_and_must_be_closed() -> None:
    ring = [(113.60, 34.70), (113.61, 34.70), (113.61, 34.71), (113.60, 34.70)]
    doc = _doc(warning_to_cap(_warning(), sender=SENDER, polygon=ring))
    assert _text(doc, "cap:info/cap:area/cap:polygon").split()[1] == "34.700000,113.610000"
    with pytest.raises(CapBuildError, match="must be closed"):
        warning_to_cap(_warning(), sender=SENDER, polygon=ring[:-1] + [(113.6, 34.705)])


def test_unmasked_personal_data_is_refused() -> None:
    leaky = _warning(explanation=("caller 13812345678 reports no water",))
    with pytest.raises(CapBuildError, match="explanation contains an unmasked phone"):
        warning_to_cap(leaky, sender=SENDER)
    masked = _warning(explanation=("caller 138****5678 reports no water",))
    validate_cap(warning_to_cap(masked, sender=SENDER))


def test_sender_must_be_a_cap_token() -> None:
    with pytest.raises(CapBuildError, match="spaces, commas"):
        warning_to_cap(_warning(), sender="risk watch")


def test_categories_map_to_cap() -> None:
    assert cap_categories("fire") == ("Fire",)
    assert cap_categories("criminal") == ("Security",)
    assert cap_categories("environment") == ("Env",)
    assert cap_categories("road_traffic")[0] == "Transport"
    assert cap_categories("water_supply") == ("Infra",)
    assert cap_categories("not_in_taxonomy") == ("Other",)


def test_utc_is_written_minus_zero_as_cap_asks() -> None:
    assert cap_datetime(T0, UTC) == "2026-11-23T04:00:00-00:00"
    with pytest.raises(CapBuildError, match="naive"):
        cap_datetime(datetime(2026, 1, 1))


def _tampered(old: bytes, new: bytes) -> bytes:
    xml = warning_to_cap(_warning(), sender=SENDER)
    assert old in xml
    return xml.replace(old, new, 1)


def test_bad_severity_is_rejected_with_the_schema_message() -> None:
    with pytest.raises(CapInvalid, match=r"severity.*'Catastrophic' is not an element of the set"):
        validate_cap(_tampered(b"<severity>Moderate</severity>", b"<severity>Catastrophic</severity>"))


def test_missing_identifier_is_rejected() -> None:
    xml = _tampered(f"<identifier>{SENDER}:w0123456789abcdef:1</identifier>".encode(), b"")
    with pytest.raises(CapInvalid, match=r"sender.*Expected is .*identifier"):
        validate_cap(xml)


def test_fractional_seconds_and_zulu_time_are_rejected() -> None:
    with pytest.raises(CapInvalid, match="sent"):
        validate_cap(_tampered(b"<sent>2026-11-23T12:00:00+08:00</sent>", b"<sent>2026-11-23T04:00:00Z</sent>"))


def test_update_stripped_of_references_is_rejected() -> None:
    xml = warning_to_cap(_warning(2, MsgType.update), sender=SENDER, references=_refs_to(1))
    stripped = etree.fromstring(xml)
    stripped.remove(stripped.find("cap:references", NS))
    with pytest.raises(CapInvalid, match="Update must name the earlier message"):
        validate_cap(etree.tostring(stripped))


def test_open_polygon_is_rejected() -> None:
    doc = _doc(warning_to_cap(_warning(), sender=SENDER))
    polygon = doc.find("cap:info/cap:area/cap:polygon", NS)
    polygon.text = " ".join(polygon.text.split()[:-1])
    with pytest.raises(CapInvalid, match="must be closed"):
        validate_cap(etree.tostring(doc))


def test_not_xml_is_rejected() -> None:
    with pytest.raises(CapInvalid, match="not well-formed"):
        validate_cap(b"<alert")


def test_vendored_schema_is_unchanged() -> None:
    digest = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()
    notice = (SCHEMA_PATH.parent / "NOTICE.md").read_text(encoding="utf-8")
    assert f"sha256: {digest}" in notice
    assert b"Copyright OASIS Open 2010" in SCHEMA_PATH.read_bytes()

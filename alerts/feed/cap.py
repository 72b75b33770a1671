"""Warnings as OASIS CAP 1.2 messages, and validation against the official schema.

One message per warning version: `identifier` is `{sender}:{warning_id}:{version}` (plus
`:restricted` for the internal, not-yet-public form), `sent` is the version's `updated_at`, so
building the same version twice gives the same bytes and later messages can reference it.
Levels map to severity as in DESIGN.md (I Extreme, II Severe, III Moderate, IV Minor); the
level, colour, warning id and version travel as `<parameter>`s; the area carries the region's
polygon (from the offline GeoJSON) and geocodes (GB/T 2260 district, GB/T 10114 street).

`validate_cap` checks a message against the vendored OASIS schema (`cap_schema/`) and then the
rules of the CAP 1.2 text that the schema cannot express. Pure functions: no store, no clock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal

from lxml import etree
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from riskwatch.config import geo
from riskwatch.contracts import Level, MsgType, Warning, WarningStatus
from riskwatch.contracts.personal_data import mask_text

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MIME_TYPE = "application/cap+xml"
SCHEMA_PATH = Path(__file__).resolve().parent / "cap_schema" / "CAP-v1.2.xsd"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
LANGUAGE = "zh-CN"
GEOCODE_DISTRICT = "GB/T 2260"
GEOCODE_STREET = "GB/T 10114"
GEOCODE_GRID = "riskwatch:grid"
EVENT_CODE = "riskwatch:category"
RESTRICTION = "内部预警：仅限指挥中心与处置部门，未经审批不得公开发布"

# Certainty: several independent sources saw it → Observed; otherwise by the fused score.
LIKELY_SCORE = 0.6

# Taxonomy category → CAP <category> values (OASIS CAP 1.2 §3.2.2 enumeration).
CAP_CATEGORIES: dict[str, tuple[str, ...]] = {
    "water_supply": ("Infra",),
    "power_supply": ("Infra",),
    "gas_supply": ("Infra", "Safety"),
    "heating": ("Infra",),
    "road_traffic": ("Transport", "Infra"),
    "environment": ("Env",),
    "urban_construction": ("Infra", "Safety"),
    "labour": ("Other",),
    "health": ("Health",),
    "public_order": ("Security",),
    "criminal": ("Security",),
    "fire": ("Fire",),
    "traffic_accident": ("Transport", "Rescue"),
    "public_safety_accident": ("Safety", "Rescue"),
    "assistance": ("Rescue",),
    "other": ("Other",),
}

_URGENCY = {Level.I: "Immediate", Level.II: "Immediate", Level.III: "Expected", Level.IV: "Expected"}

_INSTRUCTION = {
    Level.I: "立即启动一级响应：责任部门即刻到场处置；周边群众听从现场指挥，远离危险区域。",
    Level.II: "启动二级响应：责任部门尽快到场处置；周边群众注意安全，留意后续通知。",
    Level.III: "责任部门按时限核查处置；周边群众注意防范。",
    Level.IV: "责任部门按时限核查；群众如遇相关情况可拨打12345反映。",
}
_CANCEL_INSTRUCTION = {
    WarningStatus.false_alarm: "经核实为误报，预警取消。",
}
_DEFAULT_CANCEL_INSTRUCTION = "预警解除，恢复正常。"


_CAP_TOKEN = re.compile(r"[^\s,<&]+")


class CapInvalid(ValueError):
    """A CAP document that is not well-formed, not valid against CAP 1.2, or breaks a CAP rule."""


class CapBuildError(ValueError):
    """A warning that cannot be published as CAP as asked (e.g. an Update without references)."""


class CapReference(BaseModel):
    """An earlier message, as CAP's `<references>` names it: sender, identifier, sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender: str = Field(pattern=r"^[^\s,<&]+$")
    identifier: str = Field(pattern=r"^[^\s,<&]+$")
    sent: AwareDatetime

    def text(self, tz: timezone = BEIJING) -> str:
        return f"{self.sender},{self.identifier},{cap_datetime(self.sent, tz)}"


# --------------------------------------------------------------------------- small mappings


def cap_identifier(sender: str, warning_id: str, version: int, *, public: bool = True) -> str:
    """The identifier of one version's message; the internal form has its own identifier."""
    identifier = f"{sender}:{warning_id}:{version}"
    return identifier if public else f"{identifier}:restricted"


def cap_datetime(moment: datetime, tz: timezone = BEIJING) -> str:
    """CAP's dateTime: whole seconds and a numeric offset; UTC is written `-00:00` as CAP asks."""
    if moment.tzinfo is None:
        raise CapBuildError(f"CAP times need a timezone, got naive {moment.isoformat()}")
    local = moment.astimezone(tz).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def cap_categories(category: str) -> tuple[str, ...]:
    """CAP categories of a taxonomy category; unknown ones are `Other`."""
    return CAP_CATEGORIES.get(category, ("Other",))


def cap_urgency(warning: Warning) -> str:
    return "Past" if warning.msg_type is MsgType.cancel else _URGENCY[warning.level]


def cap_certainty(warning: Warning) -> str:
    if len(set(warning.sources)) >= 2:
        return "Observed"
    return "Likely" if warning.score >= LIKELY_SCORE else "Possible"


def default_instruction(warning: Warning) -> str:
    if warning.msg_type is MsgType.cancel:
        return _CANCEL_INSTRUCTION.get(warning.status, _DEFAULT_CANCEL_INSTRUCTION)
    return _INSTRUCTION[warning.level]


def cap_polygon(ring: Sequence[tuple[float, float]]) -> str:
    """`lat,lon lat,lon ...` from a closed (lon, lat) ring of at least 4 points."""
    points = list(ring)
    if len(points) < 4:
        raise CapBuildError(f"a CAP polygon needs at least 4 points (first = last), got {len(points)}")
    if points[0] != points[-1]:
        raise CapBuildError(f"a CAP polygon must be closed: first point {points[0]} differs from last {points[-1]}")
    for lon, lat in points:
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise CapBuildError(f"polygon point ({lon}, {lat}) is not a WGS 84 (lon, lat) pair")
    return " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in points)


# --------------------------------------------------------------------------- building


def _reference_list(
    warning: Warning, sender: str, references: Sequence[CapReference | tuple[str, int, datetime]], public: bool
) -> list[CapReference]:
    """Tuples are `(warning_id, version, sent)` of earlier versions of this same warning."""
    out: list[CapReference] = []
    for ref in references:
        if isinstance(ref, CapReference):
            out.append(ref)
            continue
        warning_id, version, sent = ref
        if warning_id != warning.warning_id:
            raise CapBuildError(
                f"reference {ref!r} names warning {warning_id!r}; references must be earlier versions of {warning.warning_id!r} "
                "as (warning_id, version, sent), or CapReference for another sender's message"
            )
        if version >= warning.version:
            raise CapBuildError(f"reference to version {version} is not earlier than this message's version {warning.version}")
        out.append(CapReference(sender=sender, identifier=cap_identifier(sender, warning_id, version, public=public), sent=sent))
    return out


def _check_no_personal_data(fields: dict[str, str]) -> None:
    for name, text in fields.items():
        if mask_text(text) != text:
            raise CapBuildError(f"{name} contains an unmasked phone or ID number; warnings must carry masked text only")


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _pair(parent: etree._Element, tag: str, name: str, value: str) -> None:
    holder = _sub(parent, tag)
    _sub(holder, "valueName", name)
    _sub(holder, "value", value)


def warning_to_cap(
    warning: Warning,
    *,
    sender: str,
    references: Sequence[CapReference | tuple[str, int, datetime]] | None = None,
    public: bool = True,
    polygon: Sequence[tuple[float, float]] | None = None,
    sender_name: str | None = None,
    web: str | None = None,
    instruction: str | None = None,
    status: Literal["Actual", "Exercise", "Test"] = "Actual",
    tz: timezone = BEIJING,
) -> bytes:
    """One warning version as a CAP 1.2 `<alert>` (UTF-8 bytes), valid against the OASIS schema.

    `references`: the earlier messages an Update or Cancel supersedes — `(warning_id, version,
    sent)` tuples of this warning's earlier versions, or `CapReference`s. `polygon`: a closed
    (lon, lat) ring; default, the region's polygon from the offline GeoJSON. `public=False`
    builds the internal form: scope Restricted with a restriction note.
    """
    if not _CAP_TOKEN.fullmatch(sender):
        raise CapBuildError(f"sender {sender!r} must be non-empty without spaces, commas, '<' or '&' (CAP 1.2 §3.2.1)")
    refs = _reference_list(warning, sender, references or (), public)
    if warning.msg_type in (MsgType.update, MsgType.cancel) and not refs:
        raise CapBuildError(f"a CAP {warning.msg_type.value} must reference the earlier message(s) it supersedes; got no references")
    description = "\n".join(warning.explanation)
    instruction_text = instruction or default_instruction(warning)
    _check_no_personal_data(
        {"title": warning.title, "explanation": description, "region_name": warning.region_name, "instruction": instruction_text}
    )
    ring = list(polygon) if polygon is not None else _region_polygon(warning)

    alert = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(alert, "identifier", cap_identifier(sender, warning.warning_id, warning.version, public=public))
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_datetime(warning.updated_at, tz))
    _sub(alert, "status", status)
    _sub(alert, "msgType", warning.msg_type.value)
    _sub(alert, "source", "riskwatch")
    _sub(alert, "scope", "Public" if public else "Restricted")
    if not public:
        _sub(alert, "restriction", RESTRICTION)
    if refs:
        _sub(alert, "references", " ".join(r.text(tz) for r in refs))
    _sub(alert, "incidents", warning.warning_id)

    info = _sub(alert, "info")
    _sub(info, "language", LANGUAGE)
    for category in cap_categories(warning.category):
        _sub(info, "category", category)
    _sub(info, "event", warning.category_name)
    if warning.msg_type is MsgType.cancel:
        _sub(info, "responseType", "AllClear")
    _sub(info, "urgency", cap_urgency(warning))
    _sub(info, "severity", warning.level.cap_severity)
    _sub(info, "certainty", cap_certainty(warning))
    _pair(info, "eventCode", EVENT_CODE, warning.category)
    _sub(info, "effective", cap_datetime(warning.updated_at, tz))
    _sub(info, "onset", cap_datetime(warning.first_seen, tz))
    if sender_name:
        _sub(info, "senderName", sender_name)
    _sub(info, "headline", warning.title)
    if description:
        _sub(info, "description", description)
    _sub(info, "instruction", instruction_text)
    if web:
        _sub(info, "web", web)
    for name, value in (
        ("level", warning.level.value),
        ("colour", warning.level.colour),
        ("warning_id", warning.warning_id),
        ("version", str(warning.version)),
    ):
        _pair(info, "parameter", name, value)

    area = _sub(info, "area")
    _sub(area, "areaDesc", warning.region_name)
    if ring:
        _sub(area, "polygon", cap_polygon(ring))
    for name, value in _geocodes(warning):
        _pair(area, "geocode", name, value)
    return etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _region_polygon(warning: Warning) -> list[tuple[float, float]]:
    """The region's ring, else its district's; none if the GeoJSON knows neither."""
    for code in (warning.region_code, warning.district_code):
        try:
            return geo.polygon_of(code)
        except geo.UnknownRegion:
            continue
    return []


def _geocodes(warning: Warning) -> list[tuple[str, str]]:
    codes = [(GEOCODE_DISTRICT, warning.district_code)]
    region = warning.region_code
    if len(region) >= 9 and region != warning.district_code:
        codes.append((GEOCODE_STREET, region[:9]))
    if len(region) == 15:
        codes.append((GEOCODE_GRID, region))
    return codes


# --------------------------------------------------------------------------- validation


@lru_cache(maxsize=1)
def _schema_document() -> etree._ElementTree:
    return etree.parse(str(SCHEMA_PATH))


_per_thread = threading.local()


def _schema() -> etree.XMLSchema:
    """One validator per thread: lxml validators keep their error log, so they are not shared."""
    schema = getattr(_per_thread, "schema", None)
    if schema is None:
        schema = _per_thread.schema = etree.XMLSchema(_schema_document())
    return schema


def _safe_parser() -> etree.XMLParser:
    """No entity expansion, DTDs or network: the document may come from outside."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def validate_cap(xml: bytes) -> None:
    """Raise `CapInvalid` unless `xml` is a CAP 1.2 alert valid against the OASIS schema.

    After the schema, checks CAP 1.2 rules it cannot express: Update/Cancel carry
    `<references>`, Restricted scope carries `<restriction>`, polygons are closed with ≥ 4 points.
    """
    try:
        document = etree.fromstring(xml, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise CapInvalid(f"CAP message is not well-formed XML: {exc}") from exc
    schema = _schema()
    if not schema.validate(document):
        problems = "; ".join(f"line {e.line}: {e.message.replace(f'{{{CAP_NS}}}', 'cap:')}" for e in schema.error_log)
        raise CapInvalid(f"CAP message is not valid against the OASIS CAP 1.2 schema: {problems}")
    ns = {"cap": CAP_NS}
    msg_type = document.findtext("cap:msgType", namespaces=ns)
    if msg_type in ("Update", "Cancel", "Ack", "Error") and not (document.findtext("cap:references", namespaces=ns) or "").strip():
        raise CapInvalid(f"CAP {msg_type} must name the earlier message(s) in <references> (CAP 1.2 §3.2.1)")
    if document.findtext("cap:scope", namespaces=ns) == "Restricted" and not document.findtext("cap:restriction", namespaces=ns):
        raise CapInvalid("CAP scope Restricted requires a <restriction> element (CAP 1.2 §3.2.1)")
    for polygon in document.iterfind("cap:info/cap:area/cap:polygon", namespaces=ns):
        _check_polygon_text(polygon.text or "")


def _check_polygon_text(text: str) -> None:
    pairs = text.split()
    if len(pairs) < 4:
        raise CapInvalid(f"CAP polygon needs at least 4 coordinate pairs, got {len(pairs)}: {text!r}")
    if pairs[0] != pairs[-1]:
        raise CapInvalid(f"CAP polygon must be closed (first pair = last pair): {pairs[0]} != {pairs[-1]}")
    for pair in pairs:
        try:
            lat, lon = (float(v) for v in pair.split(","))
        except ValueError:
            raise CapInvalid(f"CAP polygon point {pair!r} is not 'lat,lon'") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CapInvalid(f"CAP polygon point {pair!r} is outside WGS 84 ranges (lat first, then lon)")


__all__ = [
    "BEIJING",
    "CAP_CATEGORIES",
    "CAP_MIME_TYPE",
    "CAP_NS",
    "CapBuildError",
    "CapInvalid",
    "CapReference",
    "cap_categories",
    "cap_certainty",
    "cap_datetime",
    "cap_identifier",
    "cap_polygon",
    "cap_urgency",
    "validate_cap",
    "warning_to_cap",
]

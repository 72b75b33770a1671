"""An Atom 1.0 feed (RFC 4287) of current CAP alerts: one entry per warning, newest first.

Each entry links to the warning's CAP message at `{base_url}/cap/{warning_id}.xml` — a stable
public path that outside tools read — with `rel="alternate"` and type `application/cap+xml`,
the way CAP index feeds are usually published. The entry id names the warning, not the
version, so a reader sees an Update as the same entry with a newer `updated`.
Pure: the caller picks which warnings are current and public.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from lxml import etree

from riskwatch.alerts.feed.cap import BEIJING, CAP_MIME_TYPE, LANGUAGE
from riskwatch.contracts import Warning

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MIME_TYPE = "application/atom+xml"
LEVEL_SCHEME = "urn:riskwatch:level"
ENTRY_ID_PREFIX = "urn:riskwatch:warning:"


def cap_url(base_url: str, warning_id: str) -> str:
    """Where the API serves a warning's CAP message (a stable public contract)."""
    return f"{base_url.rstrip('/')}/cap/{warning_id}.xml"


def feed_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/cap/feed.atom"


def atom_datetime(moment: datetime, tz: timezone = BEIJING) -> str:
    """RFC 3339 date-time with a numeric offset and whole seconds."""
    if moment.tzinfo is None:
        raise ValueError(f"Atom times need a timezone, got naive {moment.isoformat()}")
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def entry_summary(warning: Warning) -> str:
    """One line for feed readers: level, place, category, and the first reason."""
    head = f"{warning.level.colour_zh}预警（{warning.level.value}级/{warning.level.label_zh}）{warning.region_name} {warning.category_name}"
    return f"{head}：{warning.explanation[0]}" if warning.explanation else head


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def cap_atom_feed(
    entries: Sequence[Warning],
    *,
    base_url: str,
    feed_id: str,
    title: str,
    updated: datetime,
    author: str = "riskwatch",
    tz: timezone = BEIJING,
) -> bytes:
    """The feed as UTF-8 bytes; entries sorted by `updated_at`, newest first (ties by id)."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", LANGUAGE)
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    _sub(feed, "updated", atom_datetime(updated, tz))
    _sub(_sub(feed, "author"), "name", author)
    _sub(feed, "link", rel="self", type=ATOM_MIME_TYPE, href=feed_url(base_url))
    _sub(feed, "generator", "riskwatch")

    for warning in sorted(entries, key=lambda w: (w.updated_at, w.warning_id), reverse=True):
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{ENTRY_ID_PREFIX}{warning.warning_id}")
        _sub(entry, "title", warning.title)
        _sub(entry, "updated", atom_datetime(warning.updated_at, tz))
        _sub(entry, "published", atom_datetime(warning.first_seen, tz))
        _sub(_sub(entry, "author"), "name", author)
        _sub(entry, "summary", entry_summary(warning))
        _sub(entry, "category", term=warning.level.value, scheme=LEVEL_SCHEME, label=f"{warning.level.colour_zh}预警")
        _sub(entry, "link", rel="alternate", type=CAP_MIME_TYPE, href=cap_url(base_url, warning.warning_id))
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)

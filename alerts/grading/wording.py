"""Chinese names the grader uses in the explanation lines a duty officer reads.

Explanations go to a Chinese command center, so sources, levels and statuses are named the way
the center names them (the same labels as the web view). Codes analysts search for — detector
and rule names, warning ids, config keys — stay as they are inside the lines.
"""

from __future__ import annotations

from collections.abc import Iterable

from riskwatch.contracts import Level, Source, WarningStatus

__all__ = ["ROMAN", "SOURCE_ZH", "STATUS_ZH", "level_zh", "source_rank", "source_zh", "sources_zh"]

#: Display order and names of the sources: sensors first, then the two call centers.
SOURCE_ZH: dict[Source, str] = {Source.sensor: "物联感知", Source.hotline: "12345热线", Source.police: "110警情"}

ROMAN: dict[Level, str] = {Level.I: "Ⅰ", Level.II: "Ⅱ", Level.III: "Ⅲ", Level.IV: "Ⅳ"}

STATUS_ZH: dict[WarningStatus, str] = {
    WarningStatus.new: "待处置",
    WarningStatus.dispatched: "已派发",
    WarningStatus.acknowledged: "已确认",
    WarningStatus.in_progress: "处置中",
    WarningStatus.resolved: "已处置",
    WarningStatus.closed: "已办结",
    WarningStatus.false_alarm: "误报",
    WarningStatus.cancelled: "已撤销",
}

_SOURCE_ORDER = {source: i for i, source in enumerate(SOURCE_ZH)}


def level_zh(level: Level) -> str:
    """A level as the center writes it: Ⅱ级."""
    return f"{ROMAN[level]}级"


def source_rank(source: Source) -> int:
    """Sort key putting sources in display order (that of SOURCE_ZH)."""
    return _SOURCE_ORDER[source]


def source_zh(source: Source) -> str:
    """A source's Chinese name: 110警情."""
    return SOURCE_ZH[source]


def sources_zh(sources: Iterable[Source]) -> str:
    """Sources in display order, joined with the Chinese enumeration comma: 物联感知、110警情."""
    return "、".join(SOURCE_ZH[s] for s in sorted(set(sources), key=source_rank))

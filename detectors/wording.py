"""Chinese words for signal reasons: what a duty officer reads beside the grader's explanation.

Reasons are written in Chinese with their numbers; detector, rule and model names, device ids
and region codes stay as they are (Latin), and units keep their symbols. Categories and metrics
are named by the taxonomy's Chinese names; without a taxonomy (a detector built bare in a
test) the code itself stands in.
"""

from __future__ import annotations

from datetime import timedelta

from riskwatch.config.models import TaxonomyConfig
from riskwatch.contracts import Source

__all__ = ["SOURCE_ZH", "Names", "direction_zh", "duration_zh", "unit_suffix"]

#: A source's Chinese name, as the command center names it (the grader's wording agrees).
SOURCE_ZH: dict[Source, str] = {Source.sensor: "物联感知", Source.hotline: "12345热线", Source.police: "110警情"}


class Names:
    """Chinese names of categories and metrics from a taxonomy (the code when it has none)."""

    def __init__(self, taxonomy: TaxonomyConfig | None = None) -> None:
        self._categories = {c.code: c.name for c in taxonomy.categories} if taxonomy else {}
        self._metrics = {m.metric: m.name for m in taxonomy.sensor_metrics} if taxonomy else {}

    def category(self, code: str) -> str:
        """A category's Chinese name: 供水."""
        return self._categories.get(code, code)

    def metric(self, code: str | None) -> str:
        """A metric's Chinese name: 管网水压."""
        return self._metrics.get(code or "", code or "")

    @staticmethod
    def source(source: Source) -> str:
        """A source's Chinese name: 110警情."""
        return SOURCE_ZH[source]

    def reports(self, category: str, source: Source | None) -> str:
        """What is counted, after the count and its measure word: 交通事故 类110警情."""
        return f"{self.category(category)} 类{SOURCE_ZH[source] if source is not None else '报告'}"


def direction_zh(below: bool) -> str:
    """低于 or 高于."""
    return "低于" if below else "高于"


def unit_suffix(unit: str | None) -> str:
    """` MPa` for a unit, nothing without one."""
    return f" {unit}" if unit else ""


def duration_zh(seconds: float) -> str:
    """A span in the largest fitting Chinese unit: 45 秒, 25 分钟, 1.5 小时, 2.0 天."""
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86_400:.1f} 天"


def span_zh(delta: timedelta) -> str:
    """A configured window exactly: 1 小时, 15 分钟, 90 秒."""
    seconds = int(delta.total_seconds())
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400} 天"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} 小时"
    if seconds % 60 == 0:
        return f"{seconds // 60} 分钟"
    return f"{seconds} 秒"

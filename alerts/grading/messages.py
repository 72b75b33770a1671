"""Turn an incident and its grade into the Warning message published for it.

Every message explains itself, in Chinese for the command center's duty officer: the score
terms, the band and hard rules behind the level, each signal's reason, neighbour,
related-group and district-level evidence, what it inhibits, and — for a Cancel — why it was cancelled. Detector
and rule names and warning ids stay as they are inside the lines, so analysts can search them.
"""

from __future__ import annotations

from datetime import datetime

from riskwatch.alerts.grading.fusion import Grade
from riskwatch.alerts.grading.incidents import Incident
from riskwatch.alerts.grading.wording import ROMAN, level_zh, source_rank, source_zh
from riskwatch.config.loader import CityConfig
from riskwatch.config.models import HardRule
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Level, MsgType, Signal, SignalSummary, Warning

#: How a coarser region's level is named in an explanation line.
_LEVEL_ZH = {"district": "区级", "street": "街道级"}


class WarningWriter:
    """Builds Warning messages with the city's names, categories and departments."""

    def __init__(self, config: CityConfig, regions: RegionIndex, hard_rules: list[HardRule]) -> None:
        self.grading = config.grading
        self.routing = config.routing
        self.taxonomy = config.taxonomy
        self.regions = regions
        self.hard_rules = hard_rules

    def category_of(self, incident: Incident) -> str:
        """The category a warning is filed under: its group's first category."""
        members = self.grading.category_groups.get(incident.group)
        return members[0] if members else incident.group

    def title(self, incident: Incident, level: Level) -> str:
        region_name, category_name = self._region_name(incident), self._category_name(incident)
        return f"{region_name}{category_name}{level.colour_zh}预警[{ROMAN[level]}级/{level.label_zh}]"

    def write(self, incident: Incident, grade: Grade, level: Level, msg_type: MsgType, at: datetime, lead: list[str] | None = None) -> Warning:
        """The next message of `incident`; the caller has already bumped its version."""
        category = self.category_of(incident)
        region = self.regions.get(incident.street)
        explanation = [*(lead or []), *self.explain(incident, grade, level)]
        evidence = {
            s.signal_id: s
            for s in [
                *incident.best_by_source.values(),
                *incident.best_by_detector.values(),
                *incident.related_by_source.values(),
                *incident.coarser_by_source.values(),
                *incident.hard_rules.values(),
                *incident.recent,
            ]
        }
        return Warning(
            warning_id=incident.warning_id,
            version=incident.version,
            msg_type=msg_type,
            level=level,
            region_code=incident.street,
            region_name=self._region_name(incident),
            district_code=region.district_code if region else incident.street[:6],
            category=category,
            category_name=self._category_name(incident),
            title=self.title(incident, level),
            department=self.routing.department_for(incident.street, category),
            first_seen=incident.first_seen,
            updated_at=at,
            score=grade.score,
            sources=tuple(sorted(incident.sources, key=lambda s: s.value)),
            explanation=tuple(explanation),
            signals=tuple(_summary(s) for s in sorted(evidence.values(), key=lambda s: (s.at, s.signal_id))),
        )

    def explain(self, incident: Incident, grade: Grade, level: Level) -> list[str]:
        """Score terms, band, hard rules, signal reasons, related and neighbour evidence."""
        lines = list(grade.reasons)
        band = next((b for b in self.grading.bands if b.level is level), None)
        if band is not None and grade.score >= band.min_score:
            lines.append(f"综合评分 {grade.score:.2f} ≥ {level_zh(level)}阈值 {band.min_score:.2f}")
        if incident.published_level is not None and level.rank < incident.published_level.rank:
            lines.append(f"维持{level_zh(incident.published_level)}：已发布的等级不下调")
        for rule in self.hard_rules:
            if rule.rule in incident.hard_rules:
                lines.append(f"硬性规则 {rule.rule} 触发，至少{level_zh(rule.level)}：{incident.hard_rules[rule.rule].reason}")
        lines += [
            f"{s.detector}（{source_zh(s.source)}）：{s.reason}"
            for s in sorted(incident.best_by_source.values(), key=lambda s: source_rank(s.source))
        ]
        lines += [
            f"关联{self.category_label(s.category)}信号 {s.detector}（{source_zh(s.source)}）：{s.reason}"
            for s in sorted(incident.related_by_source.values(), key=lambda s: source_rank(s.source))
        ]
        coarser = sorted(incident.coarser_by_source.values(), key=lambda s: source_rank(s.source))
        lines += [self.coarser_line(incident, s) for s in coarser]
        lines += incident.notes
        lines += [f"抑制预警 {wid}：已由本条更高等级预警覆盖" for wid in incident.covers]
        return lines

    def coarser_line(self, incident: Incident, signal: Signal) -> str:
        """Why a district-level signal is part of this street warning.

        E.g. 区级（金水区）信号 count_trend（12345热线）并入本事件：<the signal's reason>.
        """
        region = self.regions.get(signal.region_code)
        where = f"{_LEVEL_ZH.get(region.level, '上级')}（{region.name}）" if region else f"上级区域（{signal.region_code}）"
        own_group = self.grading.category_groups.get(incident.group, [incident.group])
        what = "" if signal.category in own_group else f"关联{self.category_label(signal.category)}"
        return f"{where}{what}信号 {signal.detector}（{source_zh(signal.source)}）并入本事件：{signal.reason}"

    def group_label(self, group: str) -> str:
        """A category group's Chinese name: that of its first category (grading.yaml order)."""
        members = self.grading.category_groups.get(group)
        return self.category_label(members[0]) if members else group

    def _region_name(self, incident: Incident) -> str:
        return self.regions.full_name(incident.street) if incident.street in self.regions else incident.street

    def _category_name(self, incident: Incident) -> str:
        return self.category_label(self.category_of(incident))

    def category_label(self, code: str) -> str:
        """A category's Chinese name from the taxonomy; the code itself if it has none."""
        try:
            return self.taxonomy.category(code).name
        except KeyError:
            return code


def _summary(signal: Signal) -> SignalSummary:
    return SignalSummary(
        signal_id=signal.signal_id,
        detector=signal.detector,
        kind=signal.kind,
        source=signal.source,
        region_code=signal.region_code,
        at=signal.at,
        score=signal.score,
        observed=signal.observed,
        expected=signal.expected,
        reason=signal.reason,
    )

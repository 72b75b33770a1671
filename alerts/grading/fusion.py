"""Fused score and level of an incident, from grading.yaml alone.

Fused score = the strongest own-group signal's score (at most `single_source_cap`) +
`corroboration_bonus` for every further independent source, counting sources seen only
through related-group or coarser-level (district) signals, + the population bonus of the street, capped at 1. The level
is the highest score band reached, raised to the floor of any hard rule that fired.

A signal marked `warming` (its detector, or the series it judged, is still warming up) never
raises a warning alone: an incident that has one source only and no hard rule, and whose
strongest signal is warming, is graded on that source's strongest signal not marked warming
instead (so a warming signal never hides a trusted one), and stays below every band if there is
none, until another source corroborates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskwatch.alerts.grading.incidents import Incident
from riskwatch.alerts.grading.wording import source_zh, sources_zh
from riskwatch.config.models import GradingConfig, HardRule
from riskwatch.contracts import Level


@dataclass(frozen=True)
class Grade:
    """An incident's fused score, its level (None: below every band), and why."""

    score: float
    level: Level | None
    reasons: tuple[str, ...]


def fused_score(incident: Incident, grading: GradingConfig, population: int) -> tuple[float, list[str]]:
    """The incident's fused score and one explanation line (Chinese, for the duty officer) per term."""
    ranked = sorted(incident.best_by_source.values(), key=lambda s: (s.score, s.source.value), reverse=True)
    top = ranked[0]
    score = top.score
    reasons = [f"最强信号：{top.detector}（{source_zh(top.source)}）评分 {score:.2f}"]
    if top.warming:
        reasons.append(f"{top.detector} 仍在预热（历史数据不足），其信号须经其他来源印证方可预警")
    if score > grading.single_source_cap:
        score = grading.single_source_cap
        reasons.append(f"单一来源评分上限 {score:.2f}，更高等级需多源印证")
    sources = incident.sources
    extra = len(sources) - 1
    if extra:
        bonus = extra * grading.corroboration_bonus
        score += bonus
        own = set(incident.best_by_source)
        via_related = set(incident.related_by_source) - own
        via_coarser = set(incident.coarser_by_source) - own - via_related
        notes = [f"{sources_zh(via)}来自{what}" for via, what in ((via_related, "关联信号"), (via_coarser, "区级信号")) if via]
        detail = f"；其中{'，'.join(notes)}" if notes else ""
        reasons.append(f"{len(sources)} 个独立来源相互印证（{sources_zh(sources)}{detail}）：+{bonus:.2f}")
    for threshold, bonus in sorted(grading.population_bonus.items(), reverse=True):
        if population >= threshold:
            score += bonus
            reasons.append(f"影响人口 {population:,} ≥ {threshold:,}：+{bonus:.2f}")
            break
    return min(round(score, 4), 1.0), reasons


def level_for(score: float, incident: Incident, grading: GradingConfig, hard_rules: list[HardRule]) -> Level | None:
    """The highest band the score reaches, raised to any fired hard rule's floor."""
    level: Level | None = None
    for band in sorted(grading.bands, key=lambda b: b.min_score, reverse=True):
        if score >= band.min_score:
            level = band.level
            break
    for rule in hard_rules:
        if rule.rule in incident.hard_rules and (level is None or rule.level.rank > level.rank):
            level = rule.level
    return level


def grade_incident(incident: Incident, grading: GradingConfig, hard_rules: list[HardRule], population: int) -> Grade:
    """Score and level of an incident that has at least one own-group signal."""
    score, reasons = fused_score(incident, grading, population)
    level = level_for(score, incident, grading, hard_rules)
    fired = any(rule.rule in incident.hard_rules for rule in hard_rules)
    if score < grading.min_score and not fired:
        level = None  # below min_score only a hard rule raises a warning
    if level is not None and not fired and warming_alone(incident):
        # A warming detector corroborates, it does not warn on its own: the lone source is
        # graded on its strongest signal that is not warming, if it has one.
        level = None
        if incident.trusted_by_source:
            trusted = incident.model_copy(update={"best_by_source": dict(incident.trusted_by_source)})
            trusted_score, trusted_reasons = fused_score(trusted, grading, population)
            if trusted_score >= grading.min_score:
                score, level = trusted_score, level_for(trusted_score, trusted, grading, hard_rules)
                reasons = [*reasons[:2], "按未预热的最强信号评分", *trusted_reasons]
    return Grade(score=score, level=level, reasons=tuple(reasons))


def warming_alone(incident: Incident) -> bool:
    """Whether a not yet published incident rests on one source whose strongest signal is warming.

    Once published, an incident keeps its level (levels are never lowered); a second
    independent source — own, related or coarser — is corroboration enough.
    """
    if incident.published_level is not None or len(incident.sources) > 1 or not incident.best_by_source:
        return False
    return all(signal.warming for signal in incident.best_by_source.values())

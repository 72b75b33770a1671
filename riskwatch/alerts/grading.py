"""Fuse signals into graded warnings: one incident per (street, category group, time span).

A signal joins the open incident of its street and category group when it is within the
correlation window of that incident's latest signal; otherwise it opens a new one. The fused
score is the strongest signal's score plus a bonus for every further independent source and
for a large affected population; levels come from `grading.yaml` score bands and hard rules.
A warning is published as an Alert when an incident first reaches a level, and as an Update
when its level rises or a new source corroborates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.detectors.registry import rule_levels
from riskwatch.schemas import (
    Level,
    MsgType,
    Signal,
    SignalKind,
    SignalSummary,
    Source,
    Warning,
    stable_id,
)

ROMAN = {Level.I: "Ⅰ", Level.II: "Ⅱ", Level.III: "Ⅲ", Level.IV: "Ⅳ"}
MAX_EVIDENCE_SIGNALS = 12


@dataclass
class Incident:
    """What is known about one incident so far."""

    warning_id: str
    street: str
    group: str
    first_seen: datetime
    last_seen: datetime
    best_by_source: dict[Source, Signal] = field(default_factory=dict)
    hard_rules: dict[str, Signal] = field(default_factory=dict)
    recent: list[Signal] = field(default_factory=list)
    published_level: Level | None = None
    published_sources: frozenset[Source] = frozenset()
    version: int = 0


class Grader:
    """Keeps open incidents and turns each signal into zero or one warning message."""

    def __init__(self, config: CityConfig, regions: RegionIndex | None = None) -> None:
        self.grading = config.grading
        self.routing = config.routing
        self.taxonomy = config.taxonomy
        self.regions = regions or RegionIndex(config.regions)
        self._group_of = {c: g for g, cats in self.grading.category_groups.items() for c in cats}
        # Hard rules of grading.yaml plus the least levels analysts gave their own rules.
        self.hard_rules = [*self.grading.hard_rules, *rule_levels(config.detectors, config.taxonomy)]
        self._open: dict[tuple[str, str], Incident] = {}

    def group_of(self, category: str) -> str:
        return self._group_of.get(category, category)

    def grade(self, signal: Signal) -> Warning | None:
        """Add a signal to its incident; return a warning message if one should be published.

        Sensor-health signals (stuck, flat, silent sensors) are for maintenance: they stay on the
        signals topic and never become a command-center warning.
        """
        if signal.kind is SignalKind.health:
            return None
        incident = self._incident_for(signal)
        self._absorb(incident, signal)
        score, reasons = self._fused_score(incident)
        level = self._level(score, incident)
        if level is None:
            return None
        sources = frozenset(incident.best_by_source)
        if incident.published_level is not None and level.rank <= incident.published_level.rank and sources <= incident.published_sources:
            return None
        msg_type = MsgType.alert if incident.published_level is None else MsgType.update
        incident.version += 1
        incident.published_level = level if incident.published_level is None else max(level, incident.published_level, key=lambda lv: lv.rank)
        incident.published_sources = sources
        return self._warning(incident, incident.published_level, msg_type, score, reasons, signal.at)

    # ------------------------------------------------------------------ incidents

    def _incident_for(self, signal: Signal) -> Incident:
        street = self.regions.at_level(signal.region_code, "street") if signal.region_code in self.regions else signal.region_code
        group = self.group_of(signal.category)
        key = (street, group)
        incident = self._open.get(key)
        window = self.grading.correlation_window
        if incident is None or signal.at - incident.last_seen > window or incident.first_seen - signal.at > window:
            # The id depends only on the street, the group and the correlation window the
            # incident began in, so a replay of the same input yields the same ids.
            window_s = int(window.total_seconds())
            epoch = int(signal.at.timestamp()) // window_s * window_s
            incident = Incident(
                warning_id=stable_id("warning", street, group, epoch),
                street=street,
                group=group,
                first_seen=signal.at,
                last_seen=signal.at,
            )
            self._open[key] = incident
        return incident

    @staticmethod
    def _absorb(incident: Incident, signal: Signal) -> None:
        incident.last_seen = max(incident.last_seen, signal.at)
        incident.first_seen = min(incident.first_seen, signal.at)
        best = incident.best_by_source.get(signal.source)
        if best is None or signal.score > best.score:
            incident.best_by_source[signal.source] = signal
        if signal.hard_rule:
            held = incident.hard_rules.get(signal.hard_rule)
            if held is None or signal.score > held.score:
                incident.hard_rules[signal.hard_rule] = signal
        incident.recent = (incident.recent + [signal])[-MAX_EVIDENCE_SIGNALS:]

    # ------------------------------------------------------------------ scoring

    def _fused_score(self, incident: Incident) -> tuple[float, list[str]]:
        ranked = sorted(incident.best_by_source.values(), key=lambda s: s.score, reverse=True)
        score = ranked[0].score
        reasons = [f"strongest signal {ranked[0].detector} ({ranked[0].source.value}) scored {score:.2f}"]
        if score > self.grading.single_source_cap:
            score = self.grading.single_source_cap
            reasons.append(f"one source alone counts at most {score:.2f}")
        extra = len(ranked) - 1
        if extra:
            bonus = extra * self.grading.corroboration_bonus
            score += bonus
            names = ", ".join(s.source.value for s in ranked)
            reasons.append(f"corroborated by {len(ranked)} independent sources ({names}): +{bonus:.2f}")
        region = self.regions.get(incident.street)
        population = region.population if region else 0
        for threshold, bonus in sorted(self.grading.population_bonus.items(), reverse=True):
            if population >= threshold:
                score += bonus
                reasons.append(f"population {population:,} ≥ {threshold:,}: +{bonus:.2f}")
                break
        return min(round(score, 4), 1.0), reasons

    def _level(self, score: float, incident: Incident) -> Level | None:
        level: Level | None = None
        for band in sorted(self.grading.bands, key=lambda b: b.min_score, reverse=True):
            if score >= band.min_score:
                level = band.level
                break
        for rule in self.hard_rules:
            if rule.rule in incident.hard_rules and (level is None or rule.level.rank > level.rank):
                level = rule.level
        if level is None and score < self.grading.min_score:
            return None
        return level

    # ------------------------------------------------------------------ message

    def _warning(self, incident: Incident, level: Level, msg_type: MsgType, score: float, reasons: list[str], at: datetime) -> Warning:
        category = self._category(incident)
        category_name = self.taxonomy.category(category).name
        region = self.regions.get(incident.street)
        region_name = self.regions.full_name(incident.street) if region else incident.street
        band = next((b for b in self.grading.bands if b.level is level), None)
        explanation = [*reasons]
        if band is not None and score >= band.min_score:
            explanation.append(f"level {level.value}: fused score {score:.2f} ≥ band {band.min_score:.2f}")
        for rule in self.hard_rules:
            if rule.rule in incident.hard_rules:
                explanation.append(f"hard rule {rule.rule} → at least level {rule.level.value}: {incident.hard_rules[rule.rule].reason}")
        explanation += [f"{s.detector}: {s.reason}" for s in sorted(incident.best_by_source.values(), key=lambda s: s.source.value)]
        evidence = {s.signal_id: s for s in [*incident.best_by_source.values(), *incident.hard_rules.values(), *incident.recent]}
        return Warning(
            warning_id=incident.warning_id,
            version=incident.version,
            msg_type=msg_type,
            level=level,
            region_code=incident.street,
            region_name=region_name,
            district_code=region.district_code if region else incident.street[:6],
            category=category,
            category_name=category_name,
            title=f"{region_name}{category_name}{level.colour_zh}预警[{ROMAN[level]}级/{level.label_zh}]",
            department=self.routing.department_for(incident.street, category),
            first_seen=incident.first_seen,
            updated_at=at,
            score=score,
            sources=tuple(sorted(incident.best_by_source, key=lambda s: s.value)),
            explanation=tuple(explanation),
            signals=tuple(_summary(s) for s in sorted(evidence.values(), key=lambda s: (s.at, s.signal_id))),
        )

    def _category(self, incident: Incident) -> str:
        members = self.grading.category_groups.get(incident.group)
        return members[0] if members else incident.group


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

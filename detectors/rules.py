"""Analyst rules: hard rules written in config, no code, evaluated over canonical events.

The rule schema — the kinds `limit`, `rate_of_change`, `count` and `combination`, with an
example — is `riskwatch.config.rules`; this module runs a validated `RuleSet`.

Every rule raises a `threshold` signal with `hard_rule` set to its name, its configured score,
the observed value and the threshold as the expectation, and a reason naming the rule.
Standalone rules fire when the condition starts to hold (per device for sensor rules, per
street for counts) and again only after it has stopped holding. A combination fires once when
its last condition falls into place; the evidence it used is then spent, so it fires again
only when every condition holds anew.
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from riskwatch.config.models import SensorMetric, TaxonomyConfig
from riskwatch.config.rules import (
    CombinationRule,
    CountCondition,
    CountRule,
    LimitCondition,
    LimitRule,
    RateOfChangeCondition,
    RateOfChangeRule,
    RuleSet,
)
from riskwatch.contracts import Event, Signal, SignalKind, Source
from riskwatch.detectors.base import make_signal
from riskwatch.detectors.wording import Names, span_zh

# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Hit:
    """A condition holding at one event."""

    region: str  # street (or district) the condition holds in
    at: float
    event: Event
    observed: float
    expected: float
    text: str
    evidence: tuple[str, ...]
    latch: tuple[str, ...] = ()


def _region(event: Event, level: str) -> str:
    if level == "district":
        return event.district_code
    return event.street_code or event.district_code


class _Evaluator(ABC):
    """Evaluates one condition on each event it accepts: a hit when it holds, else None."""

    @abstractmethod
    def accepts(self, event: Event) -> bool: ...

    @abstractmethod
    def check(self, event: Event, level: str) -> _Hit | None: ...

    @abstractmethod
    def latch_key(self, event: Event, level: str) -> tuple[str, ...]: ...


class _LimitEval(_Evaluator):
    def __init__(self, cond: LimitCondition, metric: SensorMetric) -> None:
        self.cond, self.metric = cond, metric

    def accepts(self, event: Event) -> bool:
        return event.source is Source.sensor and event.metric == self.cond.metric and event.value is not None

    def latch_key(self, event: Event, level: str) -> tuple[str, ...]:
        return (event.device_id or event.region_code,)

    def check(self, event: Event, level: str) -> _Hit | None:
        value = float(event.value)  # type: ignore[arg-type]
        cond, metric = self.cond, self.metric
        if cond.below is not None and value <= cond.below:
            limit, side = cond.below, "低于或等于"
        elif cond.above is not None and value >= cond.above:
            limit, side = cond.above, "高于或等于"
        else:
            return None
        return _Hit(
            region=_region(event, level),
            at=event.occurred_at.timestamp(),
            event=event,
            observed=value,
            expected=limit,
            text=f"{event.device_id} {metric.name} {value:g} {metric.unit}，{side} {limit:g} {metric.unit}",
            evidence=(event.event_id,),
            latch=self.latch_key(event, level),
        )


class _RateEval(_Evaluator):
    """Per device: readings of the last `within` in event-time order."""

    def __init__(self, cond: RateOfChangeCondition, metric: SensorMetric) -> None:
        self.cond, self.metric = cond, metric
        self._span_s = cond.within.total_seconds()
        self._history: dict[str, list[tuple[float, float, str]]] = {}

    def accepts(self, event: Event) -> bool:
        return event.source is Source.sensor and event.metric == self.cond.metric and event.value is not None

    def latch_key(self, event: Event, level: str) -> tuple[str, ...]:
        return (event.device_id or event.region_code,)

    def check(self, event: Event, level: str) -> _Hit | None:
        device = event.device_id or event.region_code
        t, value = event.occurred_at.timestamp(), float(event.value)  # type: ignore[arg-type]
        history = self._history.setdefault(device, [])
        lo = bisect.bisect_left(history, t - self._span_s, key=lambda r: r[0])
        hi = bisect.bisect_left(history, t, key=lambda r: r[0])
        earlier = history[lo:hi]
        history.insert(hi, (t, value, event.event_id))
        newest = history[-1][0]
        cut = bisect.bisect_left(history, newest - self._span_s, key=lambda r: r[0])
        if cut:
            del history[:cut]
        if not earlier:
            return None
        best: tuple[float, float, float, tuple[float, float, str]] | None = None  # (measure, magnitude, signed, ref)
        cond = self.cond
        for ref in earlier:
            delta = value - ref[1]
            if cond.direction == "drop" and delta >= 0 or cond.direction == "rise" and delta <= 0 or delta == 0:
                continue
            if cond.change is not None:
                measure = abs(delta)
            elif ref[1] != 0:
                measure = abs(delta) / abs(ref[1]) * 100.0
            else:
                continue
            if best is None or measure > best[0]:
                best = (measure, abs(delta), delta, ref)
        threshold = cond.change if cond.change is not None else cond.change_percent
        assert threshold is not None
        if best is None or best[0] < threshold:
            return None
        measure, magnitude, signed, ref = best
        verb = "下降" if signed < 0 else "上升"
        minutes = max(1, round((t - ref[0]) / 60))
        amount = f"{magnitude:.3g} {self.metric.unit}" if cond.change is not None else f"{measure:.0f}%"
        limit = f"{threshold:g} {self.metric.unit}" if cond.change is not None else f"{threshold:g}%"
        return _Hit(
            region=_region(event, level),
            at=t,
            event=event,
            observed=round(measure, 6),
            expected=threshold,
            text=(
                f"{device} {self.metric.name} {minutes} 分钟内{verb} {amount}（{ref[1]:g} → {value:g}），"
                f"阈值为 {span_zh(cond.within)}内 ≥ {limit}"
            ),
            evidence=(ref[2], event.event_id),
            latch=(device,),
        )


class _CountEval(_Evaluator):
    """Per street: matching reports of the last `within`."""

    def __init__(self, cond: CountCondition, within: timedelta, names: Names) -> None:
        self.cond = cond
        self._names = names
        self._within = within
        self._span_s = within.total_seconds()
        self._seen: dict[str, list[tuple[float, str]]] = {}

    def accepts(self, event: Event) -> bool:
        return event.category == self.cond.category and (self.cond.source is None or event.source is self.cond.source)

    def latch_key(self, event: Event, level: str) -> tuple[str, ...]:
        return (_region(event, level),)

    def check(self, event: Event, level: str) -> _Hit | None:
        region = _region(event, level)
        t = event.occurred_at.timestamp()
        seen = self._seen.setdefault(region, [])
        bisect.insort(seen, (t, event.event_id))
        newest = seen[-1][0]
        cut = bisect.bisect_left(seen, (newest - self._span_s,))
        if cut:
            del seen[:cut]
        lo = bisect.bisect_right(seen, (t - self._span_s, "\uffff"))
        hi = bisect.bisect_right(seen, (t, "\uffff"))
        recent = seen[lo:hi]
        if len(recent) < self.cond.at_least:
            return None
        return _Hit(
            region=region,
            at=t,
            event=event,
            observed=float(len(recent)),
            expected=float(self.cond.at_least),
            text=(
                f"{region} {span_zh(self._within)}内 {len(recent)} 起 {self._names.reports(self.cond.category, self.cond.source)}"
                f"（≥ {self.cond.at_least} 起）"
            ),
            evidence=tuple(i for _, i in recent),
            latch=(region,),
        )


def _evaluator(cond: LimitCondition | RateOfChangeCondition | CountCondition, taxonomy: TaxonomyConfig, default_within: timedelta | None) -> _Evaluator:
    if isinstance(cond, CountCondition):
        within = cond.within or default_within
        assert within is not None
        return _CountEval(cond, within, Names(taxonomy))
    metric = taxonomy.metric(cond.metric)
    if metric is None:
        raise ValueError(f"unknown sensor metric {cond.metric!r}")
    if isinstance(cond, RateOfChangeCondition):
        return _RateEval(cond, metric)
    return _LimitEval(cond, metric)


def _category_of(cond: LimitCondition | RateOfChangeCondition | CountCondition, taxonomy: TaxonomyConfig) -> str:
    if isinstance(cond, CountCondition):
        return cond.category
    metric = taxonomy.metric(cond.metric)
    return metric.category if metric else taxonomy.default_category


@dataclass
class _Standalone:
    rule: LimitRule | RateOfChangeRule | CountRule
    evaluator: _Evaluator
    category: str
    active: set[tuple[str, ...]] = field(default_factory=set)


@dataclass
class _Combination:
    rule: CombinationRule
    evaluators: list[_Evaluator]
    category: str
    window_s: float
    hits: dict[str, dict[int, _Hit]] = field(default_factory=dict)


class RulesDetector:
    """Runs analyst rules over canonical events; every rule that fires raises a `threshold` signal."""

    name = "rules"

    def __init__(self, rules: Iterable[LimitRule | RateOfChangeRule | CountRule | CombinationRule] | RuleSet, taxonomy: TaxonomyConfig) -> None:
        rule_list = list(rules.rules if isinstance(rules, RuleSet) else rules)
        # Re-validate against the taxonomy so rules built in code get the same checks as YAML.
        ruleset = RuleSet.from_data([r.model_dump(mode="json", exclude_none=True) for r in rule_list], taxonomy)
        self._taxonomy = taxonomy
        self._standalone: list[_Standalone] = []
        self._combinations: list[_Combination] = []
        for rule in ruleset.rules:
            if not rule.enabled:
                continue
            if isinstance(rule, CombinationRule):
                evaluators = [_evaluator(c, taxonomy, rule.window) for c in rule.conditions]
                category = rule.category or _category_of(rule.conditions[0], taxonomy)
                self._combinations.append(_Combination(rule, evaluators, category, rule.window.total_seconds()))
            else:
                self._standalone.append(_Standalone(rule, _evaluator(rule, taxonomy, None), _category_of(rule, taxonomy)))
        self.rules = ruleset.rules

    def warming_up(self) -> bool:
        """Never: rules look only at the window they name."""
        return False

    def accepts(self, event: Event) -> bool:
        return any(s.evaluator.accepts(event) for s in self._standalone) or any(
            e.accepts(event) for c in self._combinations for e in c.evaluators
        )

    def observe(self, event: Event) -> list[Signal]:
        signals: list[Signal] = []
        for item in self._standalone:
            if not item.evaluator.accepts(event) or not _applies(item.rule.regions, event):
                continue
            hit = item.evaluator.check(event, "street")
            if hit is None:
                item.active.discard(item.evaluator.latch_key(event, "street"))
            elif hit.latch not in item.active:
                item.active.add(hit.latch)
                signals.append(self._single_signal(item, hit))
        for combo in self._combinations:
            signal = self._observe_combination(combo, event)
            if signal is not None:
                signals.append(signal)
        return signals

    # ------------------------------------------------------------------ combinations

    def _observe_combination(self, combo: _Combination, event: Event) -> Signal | None:
        rule = combo.rule
        if not _applies(rule.regions, event):
            return None
        new_hit = None
        for i, evaluator in enumerate(combo.evaluators):
            if not evaluator.accepts(event):
                continue
            hit = evaluator.check(event, rule.region_level)
            if hit is not None:
                combo.hits.setdefault(hit.region, {})[i] = hit
                new_hit = hit
        if new_hit is None:
            return None
        region = new_hit.region
        hits = combo.hits[region]
        # Forget hits that can no longer be part of a window ending now.
        for i in [i for i, h in hits.items() if h.at < new_hit.at - combo.window_s]:
            del hits[i]
        if len(hits) < len(combo.evaluators):
            if not hits:
                del combo.hits[region]
            return None
        times = [h.at for h in hits.values()]
        if max(times) - min(times) > combo.window_s:
            return None
        ordered = [hits[i] for i in range(len(combo.evaluators))]
        del combo.hits[region]  # the evidence is spent: fire once
        evidence: list[str] = []
        for h in ordered:
            evidence.extend(e for e in h.evidence if e not in evidence)
        return make_signal(
            self.name,
            SignalKind.threshold,
            event,
            (rule.name, region, *evidence),
            region_code=region,
            district_code=region[:6],
            category=combo.category,
            score=rule.score,
            observed=float(len(ordered)),
            expected=float(len(combo.evaluators)),
            reason=(
                f"规则 {rule.name}：{region} {span_zh(rule.window)}内 {len(ordered)} 个条件全部成立："
                + "；".join(h.text for h in ordered)
            ),
            hard_rule=rule.name,
            evidence=evidence,
        )

    # ------------------------------------------------------------------ standalone rules

    def _single_signal(self, item: _Standalone, hit: _Hit) -> Signal:
        rule, event = item.rule, hit.event
        region = hit.region if isinstance(rule, CountRule) else event.region_code
        return make_signal(
            self.name,
            SignalKind.threshold,
            event,
            (rule.name, *hit.evidence),
            region_code=region,
            category=item.category,
            score=rule.score,
            observed=hit.observed,
            expected=hit.expected,
            reason=f"规则 {rule.name}：{hit.text}",
            hard_rule=rule.name,
            evidence=hit.evidence,
        )

    def memory_size(self) -> int:
        """Readings and reports held across every rule (bounded by devices × span and streets × span)."""
        total = 0
        evaluators = [s.evaluator for s in self._standalone] + [e for c in self._combinations for e in c.evaluators]
        for evaluator in evaluators:
            if isinstance(evaluator, _RateEval):
                total += sum(len(h) for h in evaluator._history.values())
            elif isinstance(evaluator, _CountEval):
                total += sum(len(s) for s in evaluator._seen.values())
        return total


def _applies(prefixes: list[str], event: Event) -> bool:
    return not prefixes or any(event.region_code.startswith(p) for p in prefixes)

"""Analyst rules: limit, rate of change, count and combination rules written in YAML."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from riskwatch.config.loader import load_city_config
from riskwatch.config.models import HardRule
from riskwatch.config.rules import RuleConfigError, RuleSet
from riskwatch.contracts import Event, Level, Signal, SignalKind, Source
from riskwatch.detectors.base import Detector
from riskwatch.detectors.rules import RulesDetector
from riskwatch.streams.normalize import Normalizer
from tests.factories import STREET, T0, hotline, sensor

CONFIG = load_city_config()
TAXONOMY = CONFIG.taxonomy
NORMALIZER = Normalizer(CONFIG)

RULES_YAML = """
rules:
  - kind: rate_of_change
    name: pressure_drop_fast
    description: 管网水压 15 分钟内骤降
    metric: water_pressure
    direction: drop
    change: 0.08
    within: PT15M
    score: 0.75
    level: III
  - kind: limit
    name: gas_above_10
    metric: gas_concentration
    above: 10
    score: 0.65
    level: II
  - kind: count
    name: gas_calls_street
    category: gas_supply
    source: hotline
    at_least: 4
    within: PT1H
  - kind: combination
    name: water_main_break
    description: 水压骤降 + 同一街道 1 小时内 ≥3 起停水来电
    window: PT1H
    score: 0.9
    level: II
    conditions:
      - {kind: rate_of_change, metric: water_pressure, direction: drop, change: 0.08, within: PT15M}
      - {kind: count, category: water_supply, source: hotline, at_least: 3}
"""


def ruleset() -> RuleSet:
    return RuleSet.from_yaml(RULES_YAML, TAXONOMY)


def reading(device: str, minutes: float, value: float, metric: str = "water_pressure", unit: str = "MPa") -> Event:
    return NORMALIZER.normalize(Source.sensor, sensor(device, T0 + timedelta(minutes=minutes), value, metric=metric, unit=unit))


def call(order: str, minutes: float, content: str = "小区停水了，一直没水", street: str = STREET) -> Event:
    return NORMALIZER.normalize(Source.hotline, hotline(order, T0 + timedelta(minutes=minutes), content, street=street))


def run(detector: Detector, events: list[Event]) -> list[Signal]:
    return [s for e in sorted(events, key=lambda e: e.occurred_at) if detector.accepts(e) for s in detector.observe(e)]


def only(rule: str, signals: list[Signal]) -> list[Signal]:
    return [s for s in signals if s.hard_rule == rule]


def test_rate_of_change_fires_on_a_fast_drop_not_a_slow_drift() -> None:
    rng = random.Random(4)
    detector = RulesDetector(ruleset(), TAXONOMY)
    assert isinstance(detector, Detector)
    # Six hours of slow drift from 0.32 to 0.17 MPa, a reading every 2 min, with noise.
    drift = [reading("WP-1", 2 * i, 0.32 - 0.15 * i / 180 + rng.gauss(0, 0.003)) for i in range(181)]
    assert only("pressure_drop_fast", run(detector, drift)) == []
    # The same 0.15 MPa lost in 8 minutes on another device.
    steady = [reading("WP-2", 2 * i, 0.32 + rng.gauss(0, 0.003)) for i in range(30)]
    fall = [reading("WP-2", 60 + 2 * i, v) for i, v in enumerate([0.30, 0.26, 0.21, 0.18, 0.17, 0.17, 0.17, 0.17])]
    signals = only("pressure_drop_fast", run(detector, steady + fall))
    assert len(signals) == 1, "fires when the drop happens, not on every low reading after it"
    signal = signals[0]
    assert signal.kind is SignalKind.threshold and signal.detector == "rules"
    assert signal.score == 0.75 and signal.expected == 0.08 and signal.observed >= 0.08
    assert signal.category == "water_supply" and signal.region_code == "410105002001001"
    assert signal.reason.startswith("规则 pressure_drop_fast：WP-2 管网水压") and "分钟内下降" in signal.reason
    assert len(signal.evidence) == 2


def test_rate_of_change_in_percent_and_rearms_after_recovery() -> None:
    rules = RuleSet.from_data(
        [{"kind": "rate_of_change", "name": "pm_spike", "metric": "pm25", "direction": "rise", "change_percent": 100, "within": "PT30M"}],
        TAXONOMY,
    )
    detector = RulesDetector(rules, TAXONOMY)
    values = [40, 42, 41, 95, 120, 60, 45, 44, 43, 100]  # doubles at 3, recovers, doubles again at 9
    events = [reading("AQ-1", 10 * i, v, metric="pm25", unit="µg/m³") for i, v in enumerate(values)]
    signals = run(detector, events)
    assert [s.at for s in signals] == [events[3].occurred_at, events[9].occurred_at]
    assert signals[0].observed == pytest.approx((95 - 40) / 40 * 100) and signals[0].expected == 100


def test_combination_fires_once_with_its_name_as_hard_rule() -> None:
    detector = RulesDetector(ruleset(), TAXONOMY)
    before = [reading("WP-3", 2 * i, 0.31) for i in range(20)]
    drop = [reading("WP-3", 40 + 2 * i, v) for i, v in enumerate([0.27, 0.22, 0.18, 0.16, 0.16])]
    after = [reading("WP-3", 50 + 5 * i, 0.16) for i in range(20)]
    calls = [call(f"NW{i}", 55 + 7 * i) for i in range(6)]  # 停水 calls in the sensor's street
    signals = run(detector, before + drop + after + calls)
    combined = only("water_main_break", signals)
    assert len(combined) == 1
    signal = combined[0]
    assert signal.kind is SignalKind.threshold and signal.score == 0.9
    assert signal.region_code == STREET and signal.district_code == STREET[:6]
    assert signal.category == "water_supply"
    assert signal.at == calls[2].occurred_at, "fires on the third call, the last condition to hold"
    assert signal.observed == signal.expected == 2
    assert "规则 water_main_break：" in signal.reason and "WP-3" in signal.reason and "3 起 供水 类12345热线" in signal.reason
    assert {c.event_id for c in calls[:3]} <= set(signal.evidence)
    # The standalone rate rule saw the same drop.
    assert len(only("pressure_drop_fast", signals)) == 1


def test_combination_needs_same_street_and_window() -> None:
    # Calls in another street: no combination.
    detector = RulesDetector(ruleset(), TAXONOMY)
    sensor_events = [reading("WP-4", 2 * i, v) for i, v in enumerate([0.31] * 10 + [0.25, 0.2, 0.16])]
    elsewhere = [call(f"X{i}", 30 + 5 * i, street="410102001") for i in range(4)]
    assert only("water_main_break", run(detector, sensor_events + elsewhere)) == []
    # Calls in the same street but three hours after the drop: no combination.
    detector = RulesDetector(ruleset(), TAXONOMY)
    late = [call(f"L{i}", 200 + 5 * i) for i in range(4)]
    assert only("water_main_break", run(detector, sensor_events + late)) == []
    # Calls first, then the drop within the hour: the order of conditions does not matter.
    detector = RulesDetector(ruleset(), TAXONOMY)
    early = [call(f"E{i}", -40 + 5 * i) for i in range(3)]
    assert len(only("water_main_break", run(detector, early + sensor_events))) == 1


def test_limit_and_count_rules_with_custom_names_and_levels() -> None:
    rules = ruleset()
    detector = RulesDetector(rules, TAXONOMY)
    gas = [reading("GS-1", i, v, metric="gas_concentration", unit="%LEL") for i, v in enumerate([2, 3, 12, 14, 4, 11])]
    limit = only("gas_above_10", run(detector, gas))
    assert [s.observed for s in limit] == [12, 11], "fires on entering the breach, again after it cleared"
    assert limit[0].expected == 10 and limit[0].category == "gas_supply" and limit[0].score == 0.65
    calls = [call(f"GAS{i}", 10 * i, "楼道里闻到燃气味") for i in range(5)]
    count = only("gas_calls_street", run(detector, calls))
    assert len(count) == 1 and count[0].observed == 4 and count[0].region_code == STREET
    assert rules.hard_rules() == [
        HardRule(rule="pressure_drop_fast", level=Level.III),
        HardRule(rule="gas_above_10", level=Level.II),
        HardRule(rule="water_main_break", level=Level.II),
    ]


def test_bad_rule_yaml_names_the_rule_and_the_field() -> None:
    bad = """
- kind: limit
  name: fine
  metric: gas_concentration
  above: 20
- kind: rate_of_change
  name: typo_rule
  metric: water_presure
  change: 0.1
  within: 15 minutes
- kind: combination
  name: combo
  window: PT1H
  conditions:
    - {kind: count, category: water_supply, at_least: 0}
    - {kind: limit, metric: water_pressure, below: 0.1}
- kind: treshold
  name: unknown_kind
"""
    with pytest.raises(RuleConfigError) as caught:
        RuleSet.from_yaml(bad, TAXONOMY, where="rules.yaml")
    text = str(caught.value)
    assert text.startswith("rules.yaml: 4 problem(s)")
    assert "rule 1 (typo_rule): metric: unknown sensor metric 'water_presure'" in text
    assert "rule 1 (typo_rule): within:" in text
    assert "rule 2 (combo): conditions[0].at_least:" in text
    assert "rule 3 (unknown_kind): kind:" in text
    assert "rule 0" not in text
    with pytest.raises(RuleConfigError, match=r"rule 1 \(dup\): name: repeats the name of rule 0"):
        RuleSet.from_data([{"kind": "limit", "name": "dup", "metric": "pm25", "above": 1}] * 2)
    with pytest.raises(RuleConfigError, match=r"rule 0 \(r\): \(rule\): set exactly one of `change` and `change_percent`"):
        RuleSet.from_data([{"kind": "rate_of_change", "name": "r", "metric": "pm25", "within": "PT1H"}])
    with pytest.raises(RuleConfigError, match="not valid YAML"):
        RuleSet.from_yaml("- kind: [limit")


def test_rules_built_in_code_are_checked_against_the_taxonomy() -> None:
    rules = RuleSet.from_data([{"kind": "limit", "name": "x", "metric": "radiation", "above": 1}])  # no taxonomy: shape only
    with pytest.raises(RuleConfigError, match=r"rule 0 \(x\): metric: unknown sensor metric 'radiation'"):
        RulesDetector(rules, TAXONOMY)


def test_disabled_and_region_scoped_rules() -> None:
    rules = RuleSet.from_data(
        [
            {"kind": "limit", "name": "off", "metric": "water_pressure", "below": 0.2, "enabled": False},
            {"kind": "limit", "name": "elsewhere", "metric": "water_pressure", "below": 0.2, "regions": ["410102"]},
            {"kind": "limit", "name": "here", "metric": "water_pressure", "below": 0.2, "regions": ["410105002"]},
        ],
        TAXONOMY,
    )
    signals = run(RulesDetector(rules, TAXONOMY), [reading("WP-9", 0, 0.15)])
    assert [s.hard_rule for s in signals] == ["here"]


def test_state_stays_bounded_over_a_long_stream() -> None:
    detector = RulesDetector(ruleset(), TAXONOMY)
    rng = random.Random(1)
    sizes = []
    for day in range(4):
        events = [reading(f"WP-{d}", day * 1440 + 5 * i, 0.3 + rng.gauss(0, 0.01)) for i in range(288) for d in range(3)]
        events += [call(f"D{day}-{i}", day * 1440 + 15 * i) for i in range(96)]
        run(detector, events)
        sizes.append(detector.memory_size())
    # 15 min of readings per device and 1 h of calls per street, whatever the stream's length.
    assert max(sizes) <= 3 * 4 + 3 * 2 * 4 + 2 * 5
    assert sizes[-1] <= sizes[0] + 2

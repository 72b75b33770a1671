"""Hierarchical fusion: district-level signals (count_trend) and the street incidents below them."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from riskwatch.alerts.grading.grader import Grader
from riskwatch.config.loader import CityConfig
from riskwatch.contracts import Level, MsgType, Signal, Source, Warning
from tests.factories import signal
from tests.unit.test_grading import CONFIG

DISTRICT = "410105"  # 金水区
STREET = "410105002"  # 花园路街道, in 金水区
OTHER_DISTRICT_STREET = "410102001"  # a street of another district


def _signal(source: Source, score: float, minutes: float = 0, *, category: str = "water_supply", **options: Any) -> Signal:
    """A signal whose counts and reason read like a count detector's."""
    return signal(source, score, minutes, category=category, observed=12, expected=3,
                  reason=f"{category} calls well above the baseline", **options)


def _trend(source: Source, score: float, minutes: float, **kwargs: object) -> Signal:
    return _signal(source, score, minutes, region=DISTRICT, detector="count_trend", **kwargs)


def _config(absorb: bool) -> CityConfig:
    return replace(CONFIG, grading=CONFIG.grading.model_copy(update={"absorb_coarser_signals": absorb}))


def test_shipped_config_absorbs_coarser_signals() -> None:
    assert CONFIG.grading.absorb_coarser_signals is True


def test_district_signal_joins_the_open_street_incident_as_evidence() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.sensor, 0.95))
    assert alert.level is Level.III
    [update] = grader.process(_trend(Source.hotline, 0.9, 20))
    assert update.msg_type is MsgType.update and update.warning_id == alert.warning_id
    assert update.region_code == STREET and update.level is Level.II
    assert update.explanation[0] == "等级由Ⅲ级升至Ⅱ级"
    assert "区级（金水区）信号 count_trend（12345热线）并入本事件：water_supply calls well above the baseline" in update.explanation
    assert "2 个独立来源相互印证（物联感知、12345热线；其中12345热线来自区级信号）：+0.10" in update.explanation
    assert any(s.region_code == DISTRICT for s in update.signals)


def test_district_signal_never_raises_a_level_by_itself() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.hotline, 0.65))
    assert alert.level is Level.IV
    # Same source, stronger and firing a hard rule: not a new source, so no Update, no new level.
    assert grader.process(_trend(Source.hotline, 0.99, 10, hard_rule="critical_limit")) == []
    incident = grader.incident(alert.warning_id)
    assert incident is not None and incident.hard_rules == {} and set(incident.coarser_by_source) == {Source.hotline}
    # A new source corroborates (+0.10, band III) but its hard rule (at least II) does not fire.
    [update] = grader.process(_trend(Source.police, 0.99, 15, hard_rule="critical_limit"))
    assert update.warning_id == alert.warning_id and update.level is Level.III and update.score == 0.78  # 0.65 + 0.10 + population 0.03
    assert update.explanation[:2] == ("等级由Ⅳ级升至Ⅲ级", "新增来源印证：110警情")
    assert not any(line.startswith("硬性规则") for line in update.explanation)


def test_district_signal_of_an_effect_group_joins_the_street_cause_incident() -> None:
    grader = Grader(CONFIG)
    [water] = grader.process(_signal(Source.sensor, 0.95))
    [update] = grader.process(_trend(Source.police, 0.9, 20, category="road_traffic"))
    assert update.warning_id == water.warning_id and update.category == "water_supply"
    assert "区级（金水区）关联道路交通信号 count_trend（110警情）并入本事件：road_traffic calls well above the baseline" in update.explanation


def test_without_a_street_incident_the_district_keeps_its_own_warning() -> None:
    grader = Grader(CONFIG)
    [district] = grader.process(_trend(Source.hotline, 0.75, 0))
    assert district.msg_type is MsgType.alert and district.region_code == DISTRICT
    assert district.title == "金水区供水黄色预警[Ⅲ级/较重]"
    # A street incident in another district covers nothing here.
    [elsewhere] = grader.process(_signal(Source.sensor, 0.95, 10, region=OTHER_DISTRICT_STREET))
    assert elsewhere.msg_type is MsgType.alert and elsewhere.warning_id != district.warning_id


def _district_then_street(grader: Grader) -> tuple[Warning, Warning, Warning]:
    [district] = grader.process(_trend(Source.hotline, 0.75, 0))
    street, cancel = grader.process(_signal(Source.sensor, 0.95, 30))
    return district, street, cancel


def test_a_later_street_warning_cancels_the_district_warning_and_takes_its_signals() -> None:
    grader = Grader(CONFIG)
    district, street, cancel = _district_then_street(grader)
    assert street.msg_type is MsgType.alert and street.region_code == STREET and street.level is Level.III
    assert cancel.msg_type is MsgType.cancel and cancel.warning_id == district.warning_id and cancel.version == 2
    assert cancel.explanation[0] == (
        f"预警解除：区级预警已由街道预警 {street.warning_id}（{street.title}）覆盖："
        "事件已定位到金水区花园路街道，后续区级信号并入该预警"
    )
    assert f"撤销区级预警 {district.warning_id}（金水区供水黄色预警[Ⅲ级/较重]）：同一事件已定位到本街道，其后续信号并入本预警" in street.explanation
    # The district's later signals go to the street warning: a new source there is an Update.
    [update] = grader.process(_trend(Source.police, 0.9, 60))
    assert update.warning_id == street.warning_id and update.level is Level.II
    assert set(update.sources) == {Source.sensor, Source.police}


def test_a_lower_street_warning_leaves_the_district_warning_until_it_catches_up() -> None:
    grader = Grader(CONFIG)
    [district] = grader.process(_trend(Source.hotline, 0.75, 0))
    assert district.level is Level.III
    # A weak street signal: a level IV street warning must not replace a level III on screen.
    [street] = grader.process(_signal(Source.sensor, 0.62, 30))
    assert street.msg_type is MsgType.alert and street.level is Level.IV
    # The street warning rises to III: now it covers the district warning.
    update, cancel = grader.process(_signal(Source.sensor, 0.95, 40))
    assert update.warning_id == street.warning_id and update.level is Level.III
    assert cancel.msg_type is MsgType.cancel and cancel.warning_id == district.warning_id


def test_with_the_switch_off_a_district_signal_is_its_own_warning() -> None:
    grader = Grader(_config(absorb=False))
    [street] = grader.process(_signal(Source.sensor, 0.95))
    [district] = grader.process(_trend(Source.hotline, 0.75, 20))
    assert district.msg_type is MsgType.alert and district.region_code == DISTRICT
    assert district.warning_id != street.warning_id
    # Nor does a street warning cancel a district one.
    grader = Grader(_config(absorb=False))
    grader.process(_trend(Source.hotline, 0.75, 0))
    assert [w.msg_type for w in grader.process(_signal(Source.sensor, 0.95, 30))] == [MsgType.alert]


def test_state_with_a_district_and_a_street_incident_round_trips() -> None:
    grader = Grader(CONFIG)
    district, street, _cancel = _district_then_street(grader)
    snapshot = json.loads(json.dumps(grader.get_state()))
    assert snapshot["format"] == 2

    restarted = Grader(CONFIG)
    restarted.set_state(snapshot)
    assert restarted.get_state() == snapshot
    covered = restarted.incident(district.warning_id)
    assert covered is not None and covered.covered_by == street.warning_id
    [update] = restarted.process(_trend(Source.police, 0.9, 60))
    assert update.warning_id == street.warning_id and update.version == 2
    assert json.loads(json.dumps(restarted.get_state()))["incidents"][1]["coarser_by_source"]["police"]["region_code"] == DISTRICT


def test_a_replay_of_hierarchical_input_gives_the_same_messages() -> None:
    signals = [
        _trend(Source.hotline, 0.75, 0),
        _signal(Source.sensor, 0.95, 30),
        _trend(Source.police, 0.9, 60),
        _trend(Source.hotline, 0.8, 70, category="road_traffic"),  # hotline: new to the street incident
        _trend(Source.police, 0.95, 80),  # police: already counted there, nothing to publish
    ]

    def run() -> list[tuple[str, int, MsgType, Level]]:
        grader = Grader(CONFIG)
        return [(w.warning_id, w.version, w.msg_type, w.level) for s in signals for w in grader.process(s)]

    first = run()
    assert [m[2] for m in first] == [MsgType.alert, MsgType.alert, MsgType.cancel, MsgType.update, MsgType.update]
    assert run() == first


def test_a_hard_rule_joining_at_the_same_level_is_published_as_an_update() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.sensor, 0.95, 0))
    assert alert.level is Level.III and not any("alarm_limit" in line for line in alert.explanation)
    # The street's own alarm arrives later from the same source: no new level, no new source,
    # but the command center must see the rule behind the warning.
    [update] = grader.process(_signal(Source.sensor, 0.5, 10, hard_rule="alarm_limit"))
    assert update.msg_type is MsgType.update and update.level is Level.III and update.version == 2
    assert update.explanation[0] == "新增硬性规则触发：alarm_limit"
    # The same rule firing again changes nothing.
    assert grader.process(_signal(Source.sensor, 0.55, 12, hard_rule="alarm_limit")) == []

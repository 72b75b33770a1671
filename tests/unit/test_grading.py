"""Grading: levels from config, corroboration raises them, ids are deterministic."""

from __future__ import annotations

from typing import Any

from riskwatch.alerts.grading.grader import Grader
from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Level, MsgType, Signal, Source
from tests.factories import signal

CONFIG = load_city_config()
STREET = "410105002"


def _signal(source: Source, score: float, minutes: float = 0, **options: Any) -> Signal:
    """A signal from the detector `test`, with the reason `test reason`."""
    return signal(source, score, minutes, detector="test", reason="test reason", **options)


def test_weak_signal_raises_nothing() -> None:
    assert Grader(CONFIG).grade(_signal(Source.hotline, 0.3)) is None


def test_level_rises_with_independent_corroboration() -> None:
    grader = Grader(CONFIG)
    first = grader.grade(_signal(Source.sensor, 0.95))
    assert first is not None and first.msg_type is MsgType.alert and first.level is Level.III
    # Another signal from the same source adds nothing new: no message.
    assert grader.grade(_signal(Source.sensor, 0.96, minutes=5)) is None
    second = grader.grade(_signal(Source.hotline, 0.9, minutes=10))
    assert second is not None and second.msg_type is MsgType.update and second.version == 2
    assert second.level is Level.II and second.warning_id == first.warning_id
    third = grader.grade(_signal(Source.police, 0.7, minutes=20))
    assert third is not None and third.level is Level.I and third.version == 3
    assert set(third.sources) == {Source.sensor, Source.hotline, Source.police}
    assert "3 个独立来源相互印证（物联感知、12345热线、110警情）：+0.20" in third.explanation
    assert third.title == "金水区花园路街道供水红色预警[Ⅰ级/特别严重]"
    assert third.department == "water_group"


def test_hard_rule_sets_a_floor() -> None:
    warning = Grader(CONFIG).grade(_signal(Source.sensor, 0.5, hard_rule="critical_limit"))
    assert warning is not None and warning.level is Level.II
    assert any(line.startswith("硬性规则 critical_limit 触发，至少Ⅱ级") for line in warning.explanation)


def test_separate_streets_groups_and_times_are_separate_warnings() -> None:
    grader = Grader(CONFIG)
    a = grader.grade(_signal(Source.sensor, 0.9))
    b = grader.grade(_signal(Source.sensor, 0.9, region="410102001"))  # another district: never a neighbour
    c = grader.grade(_signal(Source.sensor, 0.9, category="gas_supply"))
    d = grader.grade(_signal(Source.sensor, 0.9, minutes=60 * 5))
    ids = {w.warning_id for w in (a, b, c, d) if w is not None}
    assert len(ids) == 4


def test_ids_are_deterministic_across_runs() -> None:
    first = Grader(CONFIG).grade(_signal(Source.sensor, 0.9, minutes=7))
    again = Grader(CONFIG).grade(_signal(Source.sensor, 0.9, minutes=7))
    assert first is not None and again is not None and first.warning_id == again.warning_id


def test_explanation_is_chinese_and_keeps_numbers_and_names() -> None:
    grader = Grader(CONFIG)
    alert = grader.grade(_signal(Source.police, 0.6))
    assert alert is not None and alert.level is Level.IV
    assert alert.explanation == (
        "最强信号：test（110警情）评分 0.60",
        "影响人口 150,000 ≥ 100,000：+0.03",
        "综合评分 0.63 ≥ Ⅳ级阈值 0.60",
        "test（110警情）：test reason",
    )
    update = grader.grade(_signal(Source.sensor, 0.95, minutes=10))
    assert update is not None and update.level is Level.II
    assert update.explanation[:4] == (
        "等级由Ⅳ级升至Ⅱ级",
        "新增来源印证：物联感知",
        "最强信号：test（物联感知）评分 0.95",
        "单一来源评分上限 0.80，更高等级需多源印证",
    )
    assert "2 个独立来源相互印证（物联感知、110警情）：+0.10" in update.explanation

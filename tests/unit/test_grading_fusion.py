"""Fusion: neighbours, related groups, inhibition, silences, feedback, dedup and state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from riskwatch.alerts.grading.grader import Grader
from riskwatch.alerts.grading.silences import SilenceLike
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, ConfigError, load_model
from riskwatch.config.models import GradingConfig
from riskwatch.contracts import Level, MsgType, Source, WarningStatus
from tests.factories import T0
from tests.factories import signal as _signal
from tests.unit.test_grading import CONFIG

STREET = "410105002"  # 花园路街道
NEIGHBOUR = "410105001"  # 经八路街道, 1.9 km away, same district
FAR = "410105003"  # 人民路街道: 1.9 km from 花园路 but 2.2 km from 经八路


@dataclass(frozen=True)
class _Silence:
    """Stands in for riskwatch.alerts.disposal.silences.Silence: the grader only uses this protocol."""

    silence_id: str
    region_prefix: str
    categories: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    reason: str

    def matches(self, region_code: str, category: str, at: datetime) -> bool:
        in_categories = not self.categories or category in self.categories
        return region_code.startswith(self.region_prefix) and in_categories and self.starts_at <= at < self.ends_at


# ---------------------------------------------------------------------- 1. neighbours


def test_signal_in_a_neighbouring_street_joins_the_open_incident_and_stays_placed() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.sensor, 0.95))
    [update] = grader.process(_signal(Source.hotline, 0.9, 10, region=NEIGHBOUR))
    assert update.msg_type is MsgType.update and update.warning_id == alert.warning_id
    assert update.region_code == STREET and update.level is Level.II
    assert "相邻街道 金水区经八路街道（410105001，相距 1.9 km）的信号已并入本事件" in update.explanation


def test_streets_beyond_the_radius_or_in_another_district_open_their_own_incidents() -> None:
    grader = Grader(CONFIG)
    [first] = grader.process(_signal(Source.sensor, 0.95, region=NEIGHBOUR))
    [far] = grader.process(_signal(Source.sensor, 0.95, 5, region=FAR))
    [other_district] = grader.process(_signal(Source.sensor, 0.95, 5, region="410102001"))
    assert len({first.warning_id, far.warning_id, other_district.warning_id}) == 3
    assert far.msg_type is MsgType.alert and far.region_code == FAR


# ---------------------------------------------------------------------- 2. related groups


def test_related_group_signal_corroborates_the_cause_instead_of_its_own_warning() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.sensor, 0.95))
    # Road flooding (flooding group) reported to 110: a new source for the water incident.
    [update] = grader.process(_signal(Source.police, 0.9, 15, category="road_traffic"))
    assert update.warning_id == alert.warning_id and update.category == "water_supply"
    assert update.level is Level.II and Source.police in update.sources
    assert "同一街道的道路交通类信号印证本起供水事件，不单独预警（related_groups: water → flooding）" in update.explanation
    assert "关联道路交通信号 police_detector（110警情）：road_traffic looks wrong" in update.explanation
    assert "2 个独立来源相互印证（物联感知、110警情；其中110警情来自关联信号）：+0.10" in update.explanation
    # A flooding signal from a source already counted raises nothing, and no flooding warning.
    assert grader.process(_signal(Source.sensor, 0.99, 20, category="road_traffic", hard_rule="critical_limit")) == []


def test_related_signal_in_a_neighbouring_street_corroborates_too() -> None:
    grader = Grader(CONFIG)
    grader.process(_signal(Source.sensor, 0.95))
    [update] = grader.process(_signal(Source.hotline, 0.9, 15, category="road_traffic", region=NEIGHBOUR))
    assert update.region_code == STREET and set(update.sources) == {Source.sensor, Source.hotline}


def test_related_signal_outside_the_window_raises_its_own_warning() -> None:
    grader = Grader(CONFIG)
    [water] = grader.process(_signal(Source.sensor, 0.95))
    [flooding] = grader.process(_signal(Source.sensor, 0.95, 60 * 3, category="road_traffic"))
    assert flooding.warning_id != water.warning_id and flooding.category == "road_traffic"


# ---------------------------------------------------------------------- 3. inhibition


def test_higher_cause_warning_inhibits_an_earlier_lower_effect_warning() -> None:
    grader = Grader(CONFIG)
    [flooding] = grader.process(_signal(Source.sensor, 0.62, category="road_traffic"))
    assert flooding.level is Level.IV
    water_alert, cancel = grader.process(_signal(Source.sensor, 0.95, 5))
    assert water_alert.level is Level.III and water_alert.msg_type is MsgType.alert
    assert cancel.msg_type is MsgType.cancel and cancel.warning_id == flooding.warning_id and cancel.version == 2
    assert cancel.explanation[0] == (
        f"预警解除：被更高等级预警 {water_alert.warning_id}（{water_alert.title}，Ⅲ级）覆盖，予以抑制"
    )
    # While covered, flooding signals corroborate the water warning; no new flooding warning.
    [update] = grader.process(_signal(Source.hotline, 0.9, 10, category="road_traffic"))
    assert update.warning_id == water_alert.warning_id and Source.hotline in update.sources
    assert f"抑制预警 {flooding.warning_id}：已由本条更高等级预警覆盖" in update.explanation


def test_an_equal_or_lower_cause_does_not_inhibit() -> None:
    grader = Grader(CONFIG)
    [flooding] = grader.process(_signal(Source.sensor, 0.95, category="road_traffic"))
    assert flooding.level is Level.III
    [water] = grader.process(_signal(Source.sensor, 0.95, 5))
    assert water.msg_type is MsgType.alert and water.level is Level.III


# ---------------------------------------------------------------------- 4. silences


def _maintenance(start: float = 0, end: float = 120) -> _Silence:
    return _Silence(
        silence_id="s1",
        region_prefix=STREET,
        categories=("water_supply",),
        starts_at=T0 + timedelta(minutes=start),
        ends_at=T0 + timedelta(minutes=end),
        reason="planned main replacement WO-17",
    )


def test_silence_absorbs_signals_without_a_warning() -> None:
    silence = _maintenance()
    assert isinstance(silence, SilenceLike)
    grader = Grader(CONFIG, silences=lambda: [silence])
    assert grader.process(_signal(Source.sensor, 0.95)) == []
    assert grader.process(_signal(Source.hotline, 0.95, 10)) == []
    # Another category in the same street is not muted.
    assert [w.category for w in grader.process(_signal(Source.sensor, 0.95, 10, category="gas_supply"))] == ["gas_supply"]
    # After the window, only unmuted signals count: one source, level III, not II.
    [after] = grader.process(_signal(Source.sensor, 0.9, 130))
    assert after.level is Level.III and after.msg_type is MsgType.alert
    assert "静默规则 s1 生效期间的信号已吸收，未发预警：planned main replacement WO-17" in after.explanation


def test_silence_cancels_an_already_published_warning() -> None:
    silences: list[SilenceLike] = []
    grader = Grader(CONFIG, silences=lambda: silences)
    [alert] = grader.process(_signal(Source.sensor, 0.95))
    silences.append(_maintenance(start=5))
    [cancel] = grader.process(_signal(Source.hotline, 0.9, 10))
    assert cancel.msg_type is MsgType.cancel and cancel.warning_id == alert.warning_id
    assert cancel.explanation[0] == "预警解除：处于计划作业静默期（静默规则 s1：planned main replacement WO-17）"
    assert grader.process(_signal(Source.police, 0.9, 20)) == []


# ---------------------------------------------------------------------- 5. updates and cancels


def test_open_low_warning_updates_when_a_real_incident_raises_its_score_into_a_higher_band() -> None:
    grader = Grader(CONFIG)
    [low] = grader.process(_signal(Source.hotline, 0.6))
    assert low.level is Level.IV
    [update] = grader.process(_signal(Source.hotline, 0.8, 30))  # same source, stronger: band III
    assert update.msg_type is MsgType.update and update.level is Level.III and update.version == 2
    assert update.explanation[0] == "等级由Ⅳ级升至Ⅲ级"


def test_false_alarm_feedback_cancels_and_later_signals_are_absorbed_silently() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.sensor, 0.95))
    at = T0 + timedelta(minutes=30)
    [cancel] = grader.apply_feedback(alert.warning_id, WarningStatus.false_alarm, at=at, reason="valve test")
    assert cancel.msg_type is MsgType.cancel and cancel.version == 2 and cancel.updated_at == at
    assert cancel.explanation[0] == "预警解除：指挥中心标记为误报（false_alarm），说明：valve test"
    assert grader.process(_signal(Source.hotline, 0.95, 40)) == []
    # The store's own Cancel echoes back as `cancelled`: nothing more.
    assert grader.apply_feedback(alert.warning_id, WarningStatus.cancelled) == []


def test_resolved_feedback_stops_updates_without_a_cancel() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.sensor, 0.95))
    assert grader.apply_feedback(alert.warning_id, WarningStatus.resolved) == []
    assert grader.process(_signal(Source.hotline, 0.95, 10)) == []
    # Re-opened (resolved → in_progress): Updates resume with the evidence gathered meanwhile.
    assert grader.apply_feedback(alert.warning_id, WarningStatus.in_progress) == []
    [update] = grader.process(_signal(Source.police, 0.95, 20))
    assert update.level is Level.I and update.version == 2


def test_feedback_for_an_unknown_warning_is_ignored() -> None:
    assert Grader(CONFIG).apply_feedback("nope", WarningStatus.false_alarm) == []


def test_expire_forgets_idle_incidents_without_a_cancel() -> None:
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.sensor, 0.95))
    assert grader.expire(T0 + timedelta(hours=5)) == []
    assert grader.expire(T0 + timedelta(hours=6, minutes=1)) == [alert.warning_id]
    assert grader.incident(alert.warning_id) is None and grader.get_state()["incidents"] == []
    with pytest.raises(ValueError, match="timezone-aware"):
        grader.expire(datetime(2026, 11, 23))


# ---------------------------------------------------------------------- 6. dedup


def test_the_same_signal_twice_changes_nothing() -> None:
    grader = Grader(CONFIG)
    signal = _signal(Source.sensor, 0.95)
    assert len(grader.process(signal)) == 1
    before = grader.get_state()
    assert grader.process(signal) == []
    assert grader.get_state() == before


def test_every_detector_that_counted_stays_in_the_evidence_of_later_messages() -> None:
    """A detector's signal that is neither its source's strongest nor among the latest few is
    still named when a later message goes out: which detectors stand behind a warning must not
    depend on a near-tie of scores or on what happened to arrive last."""
    grader = Grader(CONFIG)
    [alert] = grader.process(_signal(Source.hotline, 0.9, detector="count_surge"))
    assert grader.process(_signal(Source.hotline, 0.85, 1, detector="burst")) == []
    for minute in range(2, 20):  # more sensor signals than the recent list keeps
        grader.process(_signal(Source.sensor, 0.6, minute, detector="sensor_baseline"))
    [update] = grader.process(_signal(Source.police, 0.6, 25, category="road_traffic", detector="count_surge"))
    assert update.warning_id == alert.warning_id and update.version == 3
    assert {"count_surge", "burst", "sensor_baseline"} <= {s.detector for s in update.signals}


# ---------------------------------------------------------------------- 7. state


def test_state_round_trips_through_json_and_a_restarted_grader_resumes() -> None:
    grader = Grader(CONFIG)
    [flooding] = grader.process(_signal(Source.sensor, 0.62, category="road_traffic"))
    [alert, _cancel] = grader.process(_signal(Source.sensor, 0.95, 5))
    snapshot = json.loads(json.dumps(grader.get_state()))

    restarted = Grader(CONFIG)
    restarted.set_state(snapshot)
    assert restarted.get_state() == snapshot
    assert restarted.process(_signal(Source.sensor, 0.95, 5)) == []  # seen before the restart
    [update] = restarted.process(_signal(Source.hotline, 0.9, 10, category="road_traffic"))
    assert update.warning_id == alert.warning_id and update.version == 2 and update.level is Level.II
    inhibited = restarted.incident(flooding.warning_id)
    assert inhibited is not None and inhibited.covered_by == alert.warning_id


def test_set_state_rejects_a_malformed_snapshot() -> None:
    with pytest.raises(ValueError, match="incidents"):
        Grader(CONFIG).set_state({"incidents": [{"warning_id": "x"}]})


# ---------------------------------------------------------------------- config


def _grading_with(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load((DEFAULT_CONFIG_DIR / "grading.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / "grading.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"related_groups": {"water": ["lava"]}}, "related_groups.water: unknown group 'lava'; expected one of ['flooding', 'gas', 'power', 'water']"),
        ({"related_groups": {"water": ["water"]}}, "related_groups.water: a group cannot be related to itself"),
        ({"related_groups": {"water": ["flooding"], "flooding": ["water"]}}, "related_groups must not form a cycle: water → flooding → water"),
        ({"incident_idle_close": "PT1H"}, "incident_idle_close (1:00:00) must be at least correlation_window (2:00:00)"),
        ({"neighbour_radius_km": -1}, "neighbour_radius_km: Input should be greater than or equal to 0"),
    ],
)
def test_bad_grading_config_is_refused_with_the_reason(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_model(_grading_with(tmp_path, **changes), GradingConfig)
    assert message in str(caught.value)


def test_shipped_grading_config_relates_water_to_flooding() -> None:
    assert CONFIG.grading.related_groups == {"water": ["flooding"]}
    assert CONFIG.grading.causes_of("flooding") == ["water"]


def test_a_replay_gives_the_same_messages() -> None:
    signals = [
        _signal(Source.sensor, 0.62, category="road_traffic"),
        _signal(Source.sensor, 0.95, 5),
        _signal(Source.hotline, 0.9, 10, region=NEIGHBOUR),
        _signal(Source.police, 0.9, 15, category="road_traffic"),
    ]

    def run() -> list[tuple[str, int, MsgType, Level]]:
        grader = Grader(CONFIG)
        return [(w.warning_id, w.version, w.msg_type, w.level) for s in signals for w in grader.process(s)]

    first = run()
    assert [m[2] for m in first] == [MsgType.alert, MsgType.alert, MsgType.cancel, MsgType.update, MsgType.update]
    assert run() == first

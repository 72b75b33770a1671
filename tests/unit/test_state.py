"""Detector state snapshots: a restored stage continues exactly as an uninterrupted one."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from riskwatch.config.loader import load_city_config
from riskwatch.config.regions import RegionIndex
from riskwatch.detectors.registry import Watched
from riskwatch.schemas import Event, Signal
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import encode
from riskwatch.streams.pipeline import DetectStage, NormalizeStage
from riskwatch.streams.state import GATE_FILE, StateStore, write_atomically

CONFIG = load_city_config()


@pytest.fixture(scope="module")
def events() -> list[Event]:
    """The built-in demo scenario as normalized events, in arrival order."""
    normalize = NormalizeStage(CONFIG, RegionIndex(CONFIG.regions))
    out: list[Event] = []
    for item in encode(simulate(load_scenario("water_main_burst", CONFIG), CONFIG)):
        event = normalize(item.source, item.value)
        assert isinstance(event, Event)
        out.append(event)
    return out


def run(stage: DetectStage, events: list[Event]) -> list[Signal]:
    signals: list[Signal] = []
    for event in events:
        produced, dead = stage(event)
        assert dead is None
        signals.extend(produced)
    return signals


def test_restored_stage_gives_the_signals_of_an_uninterrupted_run(events: list[Event], tmp_path: Path) -> None:
    whole = run(DetectStage(CONFIG), events)
    cut = len(events) * 2 // 3  # after the incident started: detectors are mid-incident
    first = DetectStage(CONFIG)
    before = run(first, events[:cut])
    StateStore(tmp_path).save_stage(first)

    resumed = DetectStage(CONFIG)
    report = StateStore(tmp_path).restore_stage(resumed)
    assert report.fresh == {}
    assert set(report.restored) == {"gate", *(d.name for d in resumed.detectors)}
    after = run(resumed, events[cut:])
    assert {s.detector for s in whole} >= {"alarm_limits", "count_surge", "sensor_baseline"}
    assert [s.model_dump() for s in before + after] == [s.model_dump() for s in whole]


def test_replayed_tail_after_restore_is_dropped_by_the_gate(events: list[Event], tmp_path: Path) -> None:
    cut = len(events) // 2
    first = DetectStage(CONFIG)
    run(first, events[:cut])
    StateStore(tmp_path).save_stage(first)
    resumed = DetectStage(CONFIG)
    StateStore(tmp_path).restore_stage(resumed)
    # Records after the last committed offset are read again after a restart.
    assert run(resumed, events[cut - 200 : cut]) == []
    assert resumed.gate.counts["duplicate"] == 200


def test_cold_stage_differs_so_the_restore_test_can_fail(events: list[Event]) -> None:
    cut = len(events) * 2 // 3
    whole = run(DetectStage(CONFIG), events)
    cold = run(DetectStage(CONFIG), events[cut:])
    tail_of_whole = [s for s in whole if s.at >= events[cut].occurred_at]
    assert [s.signal_id for s in cold] != [s.signal_id for s in tail_of_whole]


def test_a_changed_spec_starts_that_detector_fresh_and_keeps_the_others(events: list[Event], tmp_path: Path) -> None:
    first = DetectStage(CONFIG)
    run(first, events[:1000])
    StateStore(tmp_path).save_stage(first)
    resumed = DetectStage(CONFIG)
    surge = next(d for d in resumed.detectors if d.name == "count_surge")
    assert isinstance(surge, Watched)
    surge.digest = "changed-spec"
    report = StateStore(tmp_path).restore_stage(resumed)
    assert "count_surge" not in report.restored
    assert "digest" in report.fresh["count_surge"]
    assert "sensor_baseline" in report.restored


def test_unreadable_or_foreign_snapshots_start_fresh_with_the_reason(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    stage = DetectStage(CONFIG)
    store.save_stage(stage)
    write_atomically(store.detect_dir / "burst.pkl", b"not a pickle")
    doc = pickle.loads((store.detect_dir / "rules.pkl").read_bytes())
    doc["meta"]["format"] = 999
    write_atomically(store.detect_dir / "rules.pkl", pickle.dumps(doc))
    report = store.restore_stage(DetectStage(CONFIG))
    assert report.fresh["burst"].startswith("unreadable snapshot burst.pkl")
    assert report.fresh["rules"] == "snapshot format is 999, this worker has 1"
    assert "gate" in report.restored
    assert "burst: unreadable" in report.describe()


def test_save_removes_files_of_detectors_no_longer_configured(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    stage = DetectStage(CONFIG)
    store.save_stage(stage)
    stage.detectors = [d for d in stage.detectors if d.name != "burst"]
    store.save_stage(stage)
    assert not (store.detect_dir / "burst.pkl").exists()
    assert (store.detect_dir / GATE_FILE).exists()


class _Grader:
    def __init__(self) -> None:
        self.open: dict[str, int] = {}

    def get_state(self) -> dict[str, object]:
        return {"open": dict(self.open)}

    def set_state(self, state: dict[str, object]) -> None:
        self.open = dict(state["open"])  # type: ignore[arg-type]


def test_grader_state_round_trips_when_the_grader_supports_it(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    grader = _Grader()
    grader.open["w1"] = 2
    assert store.save_grader(grader)
    restored = _Grader()
    assert store.restore_grader(restored)
    assert restored.open == {"w1": 2}
    assert not store.save_grader(object())  # a Grader without get_state is skipped, not an error

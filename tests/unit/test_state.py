"""Detector state snapshots: a restored stage continues exactly as an uninterrupted one."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from riskwatch.config.loader import load_city_config
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Event, Signal
from riskwatch.detectors.registry import Watched
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import encode
from riskwatch.streams.pipeline import DetectStage, NormalizeStage
from riskwatch.streams.state import GATE_FILE, SNAPSHOT_FORMAT, ConsumedOffsets, StateStore, write_atomically

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
    assert report.fresh["rules"] == f"snapshot format is 999, this worker has {SNAPSHOT_FORMAT}"
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


def test_consumed_offsets_are_the_next_to_process_and_keep_the_restored_ones() -> None:
    seen = ConsumedOffsets("riskwatch.events", {0: 100, 1: 7})
    seen.processed(0, 100)
    seen.processed(0, 101)
    seen.processed(2, 0)
    assert seen.snapshot() == {"riskwatch.events": {0: 102, 1: 7, 2: 1}}
    snapshot = seen.snapshot()
    snapshot["riskwatch.events"][0] = -1
    assert seen.snapshot()["riskwatch.events"][0] == 102  # a copy, not the live bookkeeping


def test_snapshots_carry_the_offsets_they_cover_back_into_the_report(events: list[Event], tmp_path: Path) -> None:
    stage = DetectStage(CONFIG)
    run(stage, events[:500])
    store = StateStore(tmp_path)
    store.save_stage(stage, {"riskwatch.events": {0: 300, 1: 200}})
    grader = _Grader()
    store.save_grader(grader, {"riskwatch.signals": {0: 40}})

    report = StateStore(tmp_path).restore_stage(DetectStage(CONFIG))
    StateStore(tmp_path).restore_grader(_Grader(), report)
    assert report.fresh == {}
    assert report.offsets == {"riskwatch.events": {0: 300, 1: 200}, "riskwatch.signals": {0: 40}}
    assert "riskwatch.events [0]@300, [1]@200" in report.describe()


def test_a_detector_saved_at_other_offsets_than_the_gate_starts_fresh(events: list[Event], tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    first = DetectStage(CONFIG)
    run(first, events[:500])
    store.save_stage(first, {"riskwatch.events": {0: 500}})
    run(first, events[500:600])
    burst = next(d for d in first.detectors if d.name == "burst")
    first.detectors = [burst]  # an interrupted save: only burst's file was rewritten
    store.save_stage(first, {"riskwatch.events": {0: 600}})
    report = store.restore_stage(DetectStage(CONFIG))
    assert report.offsets == {"riskwatch.events": {0: 600}}
    assert "burst" in report.restored
    # save_stage removed the other detectors' files, so they have no snapshot at all.
    assert report.fresh["rules"] == "no snapshot"

    doc = pickle.loads((store.detect_dir / GATE_FILE).read_bytes())
    doc["meta"]["offsets"] = {"riskwatch.events": {0: 500}}
    write_atomically(store.detect_dir / GATE_FILE, pickle.dumps(doc))
    report = store.restore_stage(DetectStage(CONFIG))
    assert report.offsets == {"riskwatch.events": {0: 500}}
    assert report.fresh["burst"] == "snapshot taken at other offsets than the gate's (an interrupted save)"


def test_without_a_usable_gate_no_detector_is_restored(events: list[Event], tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    first = DetectStage(CONFIG)
    run(first, events[:500])
    store.save_stage(first, {"riskwatch.events": {0: 500}})
    (store.detect_dir / GATE_FILE).unlink()
    resumed = DetectStage(CONFIG)
    report = store.restore_stage(resumed)
    assert report.restored == []
    assert report.offsets == {}  # the worker then rewinds the events to the earliest record
    assert report.fresh["gate"] == "no snapshot"
    assert all(report.fresh[d.name] == "not restored without a usable gate snapshot" for d in resumed.detectors)

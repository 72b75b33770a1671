"""The back-test: matching warnings and signals to incidents, the metrics, CSV mode and the report."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Level, MsgType, Signal, SignalKind, Source, Warning
from riskwatch.detectors.series.base import SeriesDetector
from riskwatch.detectors.series.registry import register as register_series
from riskwatch.tools.backtest import cli as backtest_cli
from riskwatch.tools.backtest import runner, scoring, truth

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
STREET, OTHER_STREET, DISTRICT = "410105002", "410105001", "410105"


def incident(id: str = "inc", start: datetime = T0, hours: float = 2, street: str = STREET, groups: tuple[str, ...] = ("water",),
             level: str | None = "II") -> truth.TruthIncident:
    return truth.TruthIncident(id, "water_main_burst", street, street[:6], start, start + timedelta(hours=hours),
                            frozenset(groups), groups, level)


def det(at: datetime, region: str = STREET, group: str = "water", health: bool = False, ref: str = "d") -> truth.Detection:
    return truth.Detection(ref, "x", region, region[:6], group, at, health)


def minutes(m: float) -> timedelta:
    return timedelta(minutes=m)


@pytest.fixture(scope="module")
def city():
    return load_city_config()


@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()
    backtest_cli.register(app)

    @app.command()
    def other() -> None:  # a second command keeps `backtest` a named subcommand
        pass

    return app


# ----------------------------------------------------------------------------- matching


def test_match_needs_place_group_and_time_window() -> None:
    inc = incident()
    assert truth.matches(det(T0), inc)
    assert truth.matches(det(T0 + minutes(119)), inc)
    assert truth.matches(det(inc.end + minutes(60)), inc)  # default tolerance: 1 h after the end
    assert not truth.matches(det(inc.end + minutes(61)), inc)
    assert truth.matches(det(inc.end + minutes(61)), inc, tolerance=minutes(90))
    assert not truth.matches(det(T0 - minutes(1)), inc)
    assert not truth.matches(det(T0 + minutes(5), region=OTHER_STREET), inc)
    assert not truth.matches(det(T0 + minutes(5), group="gas"), inc)


def test_district_level_finding_matches_incidents_in_its_district() -> None:
    inc = incident()
    assert truth.matches(det(T0 + minutes(5), region=DISTRICT), inc)
    assert not truth.matches(det(T0 + minutes(5), region="410104"), inc)


def test_health_findings_match_only_health_incidents() -> None:
    fault, event = incident("fault", level=None), incident("event")
    assert fault.health and not event.health
    assert truth.matches(det(T0 + minutes(5), health=True), fault)
    assert not truth.matches(det(T0 + minutes(5), health=True), event)
    assert not truth.matches(det(T0 + minutes(5)), fault)


def warning(wid: str, version: int, at: datetime, level: Level, street: str = STREET, category: str = "water_supply") -> Warning:
    return Warning(
        warning_id=wid, version=version, msg_type=MsgType.alert if version == 1 else MsgType.update, level=level,
        region_code=street, region_name="花园路街道", district_code=street[:6], category=category, category_name="供水",
        title="t", first_seen=at, updated_at=at, score=0.7, sources=(Source.sensor,), explanation=(), signals=(),
    )


def test_warning_versions_count_once_and_an_update_during_the_incident_matches(city) -> None:
    group_of = truth.group_mapper(city)
    inc = incident(start=T0 + timedelta(hours=1))
    early = [warning("w1", 1, T0, Level.IV), warning("w1", 2, T0 + minutes(70), Level.II)]  # raised by the incident
    dets = truth.warning_detections([*early, warning("w2", 1, T0 + minutes(80), Level.III, street=OTHER_STREET)], group_of)
    assert len(dets) == 2
    w1 = next(d for d in dets if d.ref == "w1")
    assert w1.at == T0 and w1.level == "II" and w1.group == "water"
    ev = scoring.evaluate(dets, [inc], district_days=4.0)
    assert ev.first["inc"].ref == "w1" and ev.first["inc"].at == T0 + minutes(70)
    assert ev.score.delays == [600.0]
    assert [d.ref for d in ev.false] == ["w2"]


def test_signals_are_placed_in_their_street_and_credited_to_the_configured_detector(city) -> None:
    from riskwatch.config.regions import RegionIndex

    sig = Signal(signal_id="s", detector="count_trend/cold_start", kind=SignalKind.surge, source=Source.hotline,
                 region_code=f"{STREET}001001", district_code=DISTRICT, category="water_supply", at=T0, score=0.9,
                 observed=5, reason="r")
    (d,) = truth.signal_detections([sig], truth.group_mapper(city), RegionIndex(city.regions))
    assert (d.by, d.region, d.group, d.health) == ("count_trend", STREET, "water", False)


# ----------------------------------------------------------------------------- metrics


def test_evaluate_rates_delays_and_false_per_district_day() -> None:
    incs = [incident("a", T0), incident("b", T0 + timedelta(hours=5), street=OTHER_STREET), incident("c", T0 + timedelta(hours=10))]
    dets = [
        det(T0 + minutes(20), ref="a-late"), det(T0 + minutes(10), ref="a-first"),  # earliest counts
        det(T0 + timedelta(hours=5, minutes=40), region=OTHER_STREET, ref="b"),
        det(T0 + timedelta(hours=4), ref="nothing-there"),  # between a (+1 h tolerance) and c
        det(T0 + minutes(30), group="gas", ref="wrong-group"),
    ]
    ev = scoring.evaluate(dets, incs, district_days=8.0)
    sc = ev.score
    assert (sc.incidents, sc.detected, sc.total, sc.false) == (3, 2, 5, 2)
    assert sc.detection_rate == pytest.approx(2 / 3)
    assert sorted(sc.delays) == [600.0, 2400.0]
    assert sc.median_delay == 1500.0
    assert sc.p90_delay == pytest.approx(600 + 0.9 * 1800)
    assert sc.false_per_district_day == pytest.approx(2 / 8)
    assert ev.first["a"].ref == "a-first" and "c" not in ev.first
    assert {d.ref for d in ev.false} == {"nothing-there", "wrong-group"}


def test_scores_add_up_and_empty_scores_have_no_rates() -> None:
    a = scoring.Score(incidents=2, detected=1, delays=[60.0], false=3, total=4, district_days=4.0)
    b = scoring.Score(incidents=2, detected=2, delays=[120.0, 180.0], false=1, total=3, district_days=4.0)
    c = a + b
    assert (c.incidents, c.detected, c.false, c.total, c.district_days) == (4, 3, 4, 7, 8.0)
    assert c.detection_rate == 0.75 and c.median_delay == 120.0 and c.false_per_district_day == 0.5
    empty = scoring.Score()
    assert empty.detection_rate is None and empty.median_delay is None and empty.false_per_district_day is None
    assert empty.as_dict()["detection_rate"] is None


def test_runs_and_event_wise_series_scores() -> None:
    assert scoring.runs([0, 1, 1, 0, 1]) == [(1, 2), (4, 4)]
    assert scoring.runs([]) == []
    ts = [T0 + minutes(5 * i) for i in range(20)]
    labels = [0] * 20
    labels[5:8] = [1, 1, 1]
    labels[14:17] = [1, 1, 1]
    alarms = [False] * 20
    alarms[6] = alarms[7] = True  # detects the first window 5 min after its start
    alarms[10] = alarms[11] = True  # one false alarm (one run)
    alarms[13] = True  # another, just before the second window, which is missed
    sc = scoring.score_alarms(ts, labels, alarms)
    assert (sc.windows, sc.detected, sc.false_alarms) == (2, 1, 2)
    assert sc.delays == [300.0] and sc.delay_points == [1]
    assert sc.precision == pytest.approx(1 / 3) and sc.recall == 0.5
    assert sc.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert sc.days == pytest.approx(95 / 1440)
    assert sc.false_per_day == pytest.approx(2 / (95 / 1440))


# ----------------------------------------------------------------------------- CSV mode


class Spiky(SeriesDetector):
    """Scores 1 for a value above 5, else 0: alarms known in advance."""

    name = "test_spiky"

    def update(self, ts: datetime, value: float) -> float:
        return 1.0 if value > 5 else 0.0

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


register_series("test_spiky", f"{__name__}:Spiky")


def write_csv(path: Path) -> Path:
    """200 points, 10 min apart: label windows at 50–54 and 150–159; values spike at 52 and 120."""
    rows = ["timestamp,value,label"]
    for i in range(200):
        value = 10.0 if i in (52, 120) else math.sin(i / 7)
        label = 1 if 50 <= i <= 54 or 150 <= i <= 159 else 0
        rows.append(f"{(T0 + minutes(10 * i)).isoformat()},{value},{label}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_csv_mode_scores_known_alarms(tmp_path) -> None:
    result = scoring.run_csv(write_csv(tmp_path / "toy.csv"), "test_spiky", threshold=0.5)
    assert list(np.flatnonzero(result.alarms)) == [52, 120]
    sc = result.score
    assert (sc.windows, sc.detected, sc.false_alarms) == (2, 1, 1)
    assert sc.delays == [1200.0]
    assert sc.precision == 0.5 and sc.recall == 0.5 and sc.f1 == 0.5


def test_csv_command_json_and_report_with_images(tmp_path, cli) -> None:
    csv_path = write_csv(tmp_path / "toy.csv")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["backtest", "--csv", str(csv_path), "--detector", "test_spiky", "--threshold", "0.5",
                                      "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["overall"]["detected"] == 1 and doc["overall"]["false_alarms"] == 1 and doc["files"][0]["points"] == 200
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1 and "toy" in page


def test_csv_with_missing_column_is_a_clear_error(tmp_path, cli) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-11-23T00:00:00+08:00,1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["backtest", "--csv", str(bad)])
    assert result.exit_code == 2 and "label" in result.output


# ----------------------------------------------------------------------------- scenario mode


SMALL_SCENARIO = """
name: tiny_burst
start: 2026-11-23T00:00:00+08:00
duration: PT8H
seed: 7
background:
  hotline_per_hour: 40
  police_per_hour: 10
  sensors:
    water_pressure: {per_street: 1, streets: ['410105002', '410105001']}
incidents:
  - id: wmb-1
    kind: water_main_burst
    street: '410105002'
    start: 2026-11-23T05:00:00+08:00
    duration: PT2H
    expected_level: II
    expected_categories: [water_supply]
"""


def test_scenario_run_finds_the_burst_and_writes_a_report(tmp_path, city, cli) -> None:
    path = tmp_path / "tiny_burst.yaml"
    path.write_text(SMALL_SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["backtest", "--scenario", str(path), "--out", str(out), "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (sc,) = doc["scenarios"]
    assert sc["pipeline"]["detected"] == 1 and sc["pipeline"]["incidents"] == 1
    assert sc["incidents"][0]["pipeline"]["delay_s"] < 3600
    assert sc["events"] > 100 and sc["events_per_s"] > 0
    assert "sensor_baseline" in sc["detectors"] and doc["overall"]["pipeline"]["detection_rate"] == 1.0
    assert (out / "tiny_burst" / "ground_truth.json").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1 and "wmb-1" in page

    # the same files again, as a recorded run
    run = runner.run_recorded(out / "tiny_burst", city, progress=False)
    again = scoring.score_run(run, city)
    assert again.pipeline.score.detected == 1
    assert run.traces.sensor["WP-410105002-01"] and run.traces.hotline["410105002"]


def test_history_warms_the_detectors_and_is_neither_graded_nor_counted(tmp_path, city) -> None:
    from riskwatch.simulator.history import history_messages
    from riskwatch.simulator.scenario import load_scenario
    from riskwatch.simulator.sinks import write_files

    path = tmp_path / "tiny_burst.yaml"
    path.write_text(SMALL_SCENARIO, encoding="utf-8")
    scenario = load_scenario(path, city)
    write_files(scenario, tmp_path / "live", city=city)
    history = [(m.source, m.value) for m in history_messages(scenario, city, 1, 1)]
    cold = runner.run_recorded(tmp_path / "live", city, progress=False)
    warm = runner.run_recorded(tmp_path / "live", city, progress=False, history=history)
    assert warm.events == cold.events, "only the live records are counted"
    assert all(w.first_seen >= scenario.start for w in warm.warnings), "history raises no warning"
    assert all(s.at >= scenario.start for s in warm.signals)
    assert scoring.score_run(warm, city).pipeline.score.detected == 1
    # A day of history has warmed the detectors: no signal of the replay is marked warming, and the
    # report detectors that stay silent cold (burst, count_surge on a few buckets) now signal.
    assert not any(s.warming for s in warm.signals)
    assert {"burst", "count_surge"} <= {s.detector for s in warm.signals}

"""The SKAB harness: its metrics on hand-computed cases, and a run on two real SKAB files.

The metrics follow SKAB's `tsad` definitions (see benchmarks/skab_metrics.py); the harness test
registers stand-in station and series detectors (one that flags exactly the labelled rows, one
that flags nothing, a z-score model) and checks the figures it reports for them.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pytest

from riskwatch.detectors.series.base import SeriesDetector
from riskwatch.detectors.series.registry import SERIES_DETECTORS
from riskwatch.detectors.station.base import StationDetector, StationScore
from riskwatch.detectors.station.registry import STATION_DETECTORS
from tests.unavailable import unavailable

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _benchmark_module(name: str) -> ModuleType:
    """A module of benchmarks/ (a folder of scripts that import each other by plain name)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module(name)


m = _benchmark_module("skab_metrics")
skab = _benchmark_module("skab")


# --------------------------------------------------------------------------------------------
# binary figures


def test_binary_metrics_follow_tsad() -> None:
    counts = m.confusion(np.array([1, 1, 0, 0, 1, 0]), np.array([1, 0, 1, 0, 1, 0]))
    assert counts == m.Confusion(tp=2, tn=2, fp=1, fn=1)
    b = m.binary_metrics(counts)
    assert b.f1 == pytest.approx(2 / (2 + (1 + 1) / 2))
    assert b.far == pytest.approx(100 / 3)
    assert b.mar == pytest.approx(100 / 3)


def test_counts_are_summed_over_files_before_the_rates() -> None:
    total = m.confusion(np.array([1, 0]), np.array([1, 1])) + m.confusion(np.array([1, 1, 0, 0]), np.array([0, 0, 0, 0]))
    assert total == m.Confusion(tp=1, tn=2, fp=1, fn=2)
    b = m.binary_metrics(total)
    assert b.f1 == pytest.approx(1 / (1 + 1.5))
    assert b.far == pytest.approx(100 / 3)
    assert b.mar == pytest.approx(200 / 3)


def test_flagging_nothing_misses_everything_and_never_false_alarms() -> None:
    b = m.binary_metrics(m.confusion(np.array([0, 1, 1]), np.zeros(3)))
    assert (b.f1, b.far, b.mar) == (0.0, 0.0, 100.0)


def test_best_threshold_separates_perfectly_when_it_can() -> None:
    f1, thr = m.best_f1_threshold(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.8, 0.2]))
    assert (f1, thr) == (1.0, 0.8)


def test_best_threshold_flags_tied_scores_together() -> None:
    # at 0.5 three rows are flagged (TP 2, FP 1): F1 = 2 / 2.5; at 0.1 all four (TP 2, FP 2): 2 / 3
    f1, thr = m.best_f1_threshold(np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.5, 0.1]))
    assert f1 == pytest.approx(0.8)
    assert thr == 0.5


# --------------------------------------------------------------------------------------------
# detected changepoints and NAB


def test_run_starts_are_the_first_rows_of_flagged_runs() -> None:
    assert m.run_starts(np.array([0, 1, 1, 0, 1])).tolist() == [False, True, False, False, True]
    assert m.run_starts(np.array([1, 1, 0])).tolist() == [True, False, False]


def test_transitions_are_run_starts_and_the_rows_after_run_ends() -> None:
    assert m.transitions(np.array([1, 1, 0, 0, 1, 1])).tolist() == [True, False, True, False, True, False]


def test_windows_open_right_of_each_changepoint_and_cut_the_next_one() -> None:
    assert m.nab_windows(np.array([200.0, 0.0, 30.0]), 60.0) == [(0.0, 60.0), (60.0, 90.0), (200.0, 260.0)]


def test_reward_falls_from_a_tp_at_the_window_start_to_a_fp_at_its_end() -> None:
    assert m.tp_reward(100.0, 100.0, 160.0, 1.0, -0.11) == pytest.approx(1.0)
    assert m.tp_reward(160.0, 100.0, 160.0, 1.0, -0.11) == pytest.approx(-0.11)
    assert m.tp_reward(130.0, 100.0, 160.0, 1.0, -0.11) == pytest.approx((1.0 - 0.11) / 2, abs=0.01)
    early, late = m.tp_reward(110.0, 100.0, 160.0, 1.0, -0.11), m.tp_reward(150.0, 100.0, 160.0, 1.0, -0.11)
    assert 1.0 > early > late > -0.11


def test_nab_counts_first_hit_per_window_and_flat_false_positives() -> None:
    times = np.arange(300.0)
    cps = np.zeros(300)
    cps[[100, 200]] = 1
    detections = np.zeros(300)
    detections[[50, 100, 130, 161]] = 1  # FP, first hit of window 1, later hit (free), FP after the window
    tally = m.nab_tally(times, cps, detections, 60.0)
    assert tally == m.NabTally(positions=(0.0,), false_positives=2, missed=1)
    scores = m.nab_scores(tally)
    # standard: 1 - 2 * 0.11 - 1 against null -2 and perfect 2
    assert scores["standard"] == pytest.approx(100 * (1 - 0.22 - 1 + 2) / 4)
    assert scores["reward_low_FP"] == pytest.approx(100 * (1 - 0.44 - 1 + 2) / 4)
    assert scores["reward_low_FN"] == pytest.approx(100 * (1 - 0.22 - 2 + 4) / 6)


def test_nab_of_null_and_perfect_detectors() -> None:
    times = np.arange(100.0)
    cps = np.zeros(100)
    cps[[10, 70]] = 1
    assert m.nab_scores(m.nab_tally(times, cps, np.zeros(100)))["standard"] == pytest.approx(0.0)
    assert m.nab_scores(m.nab_tally(times, cps, cps))["standard"] == pytest.approx(100.0)


# --------------------------------------------------------------------------------------------
# range metrics (TSB-AD)


@pytest.fixture
def tsb_ad() -> None:
    try:
        m.require_tsb_ad()
    except m.TsbAdMissing as exc:
        unavailable(str(exc))


def test_range_pr_ranks_a_separating_score_above_noise(tsb_ad: None) -> None:
    labels = np.zeros(600, dtype=int)
    labels[200:260] = 1
    labels[400:420] = 1
    noise = np.random.default_rng(3).random(600)
    good_vus, good_r = m.range_pr(labels, labels * 0.8 + noise * 0.1, 10)
    bad_vus, bad_r = m.range_pr(labels, noise, 10)
    assert 0.9 < good_vus <= 1.0 and 0.9 < good_r <= 1.0
    assert bad_vus < 0.5 and bad_r < 0.5


def test_missing_tsb_ad_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "TSB_AD.evaluation.basic_metrics", None)
    with pytest.raises(m.TsbAdMissing, match=r"pip install --no-deps TSB-AD==1\.5"):
        m.range_pr(np.array([0, 1]), np.array([0.0, 1.0]), 1)
    assert skab.main(["--files", "1"]) == 2
    assert "pip install --no-deps TSB-AD==1.5" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# the harness on two real files, with stand-in detectors


class LabelStation(StationDetector):
    """Flags exactly the rows listed in `ANOMALOUS` (the test fills it from the labels)."""

    name = "test_label_station"
    ANOMALOUS: ClassVar[set[datetime]] = set()

    def update(self, ts: datetime, row: np.ndarray) -> StationScore:
        hit = ts in self.ANOMALOUS
        return StationScore(1.0 if hit else 0.0, hit)

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


class SilentStation(LabelStation):
    """Never flags, always scores 0."""

    name = "test_silent_station"

    def update(self, ts: datetime, row: np.ndarray) -> StationScore:
        return StationScore(0.0, False)


class ZScoreStation(StationDetector):
    """Largest |z| of a row against the mean and spread of the first 400 rows, 1 - exp(-|z| / 5); flags |z| > 6."""

    name = "test_zscore_station"

    def __init__(self, channels: Sequence[str]) -> None:
        super().__init__(channels)
        self.rows: list[np.ndarray] = []
        self.mean: np.ndarray | None = None
        self.sd: np.ndarray | None = None

    def update(self, ts: datetime, row: np.ndarray) -> StationScore:
        if self.mean is None or self.sd is None:
            self.rows.append(row)
            if len(self.rows) == 400:
                stacked = np.array(self.rows)
                self.mean, self.sd = stacked.mean(axis=0), stacked.std(axis=0) + 1e-9
            return StationScore(0.0, False)
        z = float(np.max(np.abs(row - self.mean) / self.sd))
        return StationScore(1.0 - math.exp(-z / 5.0), z > 6.0)

    def get_state(self) -> dict[str, Any]:
        return {"rows": self.rows, "mean": self.mean, "sd": self.sd}

    def set_state(self, state: dict[str, Any]) -> None:
        self.rows, self.mean, self.sd = state["rows"], state["mean"], state["sd"]


class LabelSeries(SeriesDetector):
    """Scores 0.9 on the rows listed in `LabelStation.ANOMALOUS`, 0.1 elsewhere (any channel)."""

    name = "test_label_series"

    def update(self, ts: datetime, value: float) -> float:
        return 0.9 if ts in LabelStation.ANOMALOUS else 0.1

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


STAND_INS: list[tuple[Any, type]] = [
    (STATION_DETECTORS, LabelStation),
    (STATION_DETECTORS, SilentStation),
    (STATION_DETECTORS, ZScoreStation),
    (SERIES_DETECTORS, LabelSeries),
]


@pytest.fixture
def skab_files() -> list[Any]:
    root = skab.default_data_dir()
    if not root.is_dir():
        unavailable(f"SKAB data not found at {root} (set {skab.DATA_ENV})")
    return skab.load_files(root, limit=2)


@pytest.fixture
def stand_ins(skab_files: list[Any]) -> Iterator[None]:
    LabelStation.ANOMALOUS = {t for f in skab_files for t, a in zip(f.timestamps, f.anomaly, strict=True) if a}
    for registry, cls in STAND_INS:
        registry.register(cls.name, f"{__name__}:{cls.__name__}")
    try:
        yield
    finally:
        for registry, cls in STAND_INS:
            registry.unregister(cls.name)
        LabelStation.ANOMALOUS = set()


def test_loaded_files_hold_channels_and_labels(skab_files: list[Any]) -> None:
    for f in skab_files:
        assert len(f.channels) == 8 and f.values.shape == (len(f.timestamps), 8)
        assert f.anomaly[f.test].any() and f.changepoint[f.test].any()
        assert np.all(np.diff(f.seconds) > 0)


def test_harness_on_two_real_files(stand_ins: None, tsb_ad: None, tmp_path: Path) -> None:
    out = tmp_path / "skab.json"
    argv = ["-d", LabelStation.name, "-d", SilentStation.name, "-d", ZScoreStation.name, "-d", LabelSeries.name]
    assert skab.main([*argv, "--files", "2", "--vus-window", "5", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert len(report["files"]) == 2
    rows = {(r["detector"], r["channel"]): r for r in report["results"]}

    label = rows[(LabelStation.name, "all")]
    assert (label["f1"], label["far"], label["mar"]) == (1.0, 0.0, 0.0)
    assert label["threshold"] == "own" and label["nab"]["standard"] > 0
    assert label["vus_pr"] > 0.9

    silent = rows[(SilentStation.name, "all")]
    assert (silent["f1"], silent["far"], silent["mar"]) == (0.0, 0.0, 100.0)
    assert silent["nab"]["standard"] == 0.0

    z = rows[(ZScoreStation.name, "all")]
    assert 0.0 <= z["f1"] <= 1.0 and 0.0 <= z["far"] <= 100.0 and 0.0 <= z["mar"] <= 100.0
    assert 0.0 <= z["vus_pr"] <= 1.0 and 0.0 <= z["r_auc_pr"] <= 1.0
    assert z["points_per_s"] > 0

    channels = [r for (name, _), r in rows.items() if name == LabelSeries.name]
    assert len(channels) == 9  # 8 channels and their max
    for r in channels:
        assert r["threshold"].startswith("oracle") and r["f1"] == 1.0 and r["far"] == 0.0
        assert r["fixed"]["threshold"] == 0.95 and r["fixed"]["f1"] == 0.0  # 0.9 never reaches it

    always = rows[("always", "-")]
    assert always["mar"] == 0.0 and always["far"] == 100.0
    assert rows[("never", "-")]["mar"] == 100.0


def test_unknown_detector_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown detector"):
        skab.pick(["no_such_detector"], station=False, univariate=False)

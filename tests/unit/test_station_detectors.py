"""Station detectors: causal, calibrated, their own threshold, contributions, state, params."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta

import numpy as np
import pytest

from riskwatch.detectors.station.base import StationDetector
from riskwatch.detectors.station.features import StationFeatures
from riskwatch.detectors.station.registry import (
    DEFAULT_STATION_DETECTOR,
    known_station_detectors,
    make_station_detector,
    station_detector_class,
)

CHANNELS = ["pressure", "flow", "current", "temperature"]
NAMES = sorted(known_station_detectors())
#: Small windows and warm-up so the tests run fast; the behaviour is the same at the defaults.
FAST = {"windows": (3, 12), "warmup": 120, "train_window": 240}
SHIFT = slice(450, 550)


def _frame(n: int = 700, seed: int = 0, shift_channel: int = 1, shift: float = 8.0) -> tuple[list[datetime], np.ndarray]:
    """Correlated noisy channels (flow drives pressure and current); one channel shifts over `SHIFT`."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, n).cumsum() * 0.02
    flow = 30 + base + rng.normal(0, 0.5, n)
    rows = np.column_stack(
        [
            2.0 + 0.05 * flow + rng.normal(0, 0.05, n),
            flow,
            1.0 + 0.02 * flow + rng.normal(0, 0.05, n),
            70 + rng.normal(0, 0.3, n),
        ]
    )
    rows[SHIFT, shift_channel] += shift * rows[:400, shift_channel].std()
    t0 = datetime(2026, 11, 1)
    return [t0 + timedelta(minutes=5 * i) for i in range(n)], rows


def test_every_registered_name_loads_a_station_detector() -> None:
    assert DEFAULT_STATION_DETECTOR in NAMES
    for name in NAMES:
        cls = station_detector_class(name)
        assert issubclass(cls, StationDetector)
        assert cls.name == name


@pytest.mark.parametrize("name", NAMES)
def test_score_frame_equals_update_row_by_row(name: str) -> None:
    ts, rows = _frame(n=420)
    rows[::37, 2] = np.nan
    whole = make_station_detector(name, CHANNELS, refit_every=100, **FAST)
    scores, flags = whole.score_frame(ts, rows)
    one = make_station_detector(name, CHANNELS, refit_every=100, **FAST)
    results = [one.update(t, r) for t, r in zip(ts, rows, strict=True)]
    np.testing.assert_array_equal(scores, [r.score for r in results])
    np.testing.assert_array_equal(flags, [r.is_anomaly for r in results])
    assert whole.get_state()["n_fits"] == one.get_state()["n_fits"] == 3
    assert ((scores >= 0) & (scores <= 1)).all()


def test_chunked_frames_and_appended_rows_never_change_earlier_results() -> None:
    ts, rows = _frame()
    full_scores, full_flags = make_station_detector("station", CHANNELS, refit_every=150, **FAST).score_frame(ts, rows)
    det = make_station_detector("station", CHANNELS, refit_every=150, **FAST)
    parts = [det.score_frame(ts[lo:hi], rows[lo:hi]) for lo, hi in ((0, 77), (77, 121), (121, 500), (500, 700))]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), full_scores)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), full_flags)
    prefix_scores, _ = make_station_detector("station", CHANNELS, refit_every=150, **FAST).score_frame(ts[:480], rows[:480])
    np.testing.assert_array_equal(prefix_scores, full_scores[:480])


def test_warms_up_then_flags_the_shift_and_names_the_channel() -> None:
    ts, rows = _frame()
    det = make_station_detector("station", CHANNELS, **FAST)
    results = [det.update(t, r) for t, r in zip(ts, rows, strict=True)]
    assert all(r.score == 0.0 and not r.is_anomaly and r.contributions == {} for r in results[: FAST["warmup"]])
    assert det.warmed_up
    flags = np.array([r.is_anomaly for r in results])
    quiet = flags[FAST["warmup"] : SHIFT.start]
    assert flags[SHIFT].mean() > 0.8
    assert quiet.mean() < 0.1
    inside = results[SHIFT.start + 20]
    assert inside.top_channels(k=1) == ["flow"]
    assert abs(sum(inside.contributions.values()) - 1.0) < 1e-9


@pytest.mark.parametrize("channel", [0, 3])
def test_contributions_follow_the_perturbed_channel(channel: int) -> None:
    ts, rows = _frame(shift_channel=channel, shift=10.0)
    det = make_station_detector("station", CHANNELS, **FAST)
    results = [det.update(t, r) for t, r in zip(ts, rows, strict=True)]
    tops = [r.top_channels(k=1)[0] for r in results[SHIFT.start + 12 : SHIFT.stop] if r.top_channels(k=1)]
    assert tops.count(CHANNELS[channel]) > 0.9 * len(tops)


def test_state_round_trip_continues_exactly() -> None:
    ts, rows = _frame()
    straight = make_station_detector("station", CHANNELS, refit_every=100, **FAST)
    want_scores, want_flags = straight.score_frame(ts, rows)
    first = make_station_detector("station", CHANNELS, refit_every=100, **FAST)
    first.score_frame(ts[:333], rows[:333])
    state = pickle.loads(pickle.dumps(first.get_state()))
    resumed = make_station_detector("station", CHANNELS, refit_every=100, **FAST)
    resumed.set_state(state)
    got_scores, got_flags = resumed.score_frame(ts[333:], rows[333:])
    np.testing.assert_array_equal(got_scores, want_scores[333:])
    np.testing.assert_array_equal(got_flags, want_flags[333:])
    other = make_station_detector("station", CHANNELS, refit_every=50, **FAST)
    with pytest.raises(ValueError, match="params"):
        other.set_state(state)


def test_missing_readings_do_not_crash() -> None:
    ts, rows = _frame()
    rows[:200, 3] = np.nan  # a sensor with no reading yet, through the warm-up
    rng = np.random.default_rng(1)
    rows[rng.random(rows.shape) < 0.05] = np.nan
    rows[600] = np.nan  # a row with no reading at all
    det = make_station_detector("station", CHANNELS, **FAST)
    results = [det.update(t, r) for t, r in zip(ts, rows, strict=True)]
    scores = np.array([r.score for r in results])
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert np.array([r.is_anomaly for r in results])[SHIFT].mean() > 0.5
    frame_scores, _ = make_station_detector("station", CHANNELS, **FAST).score_frame(ts, rows)
    np.testing.assert_array_equal(frame_scores, scores)


def test_refits_follow_the_schedule_and_leave_flagged_rows_out() -> None:
    ts, rows = _frame()
    det = make_station_detector("station", CHANNELS, refit_every=100, **FAST)
    det.score_frame(ts, rows)
    assert det.get_state()["n_fits"] == 1 + (700 - FAST["warmup"]) // 100
    never = make_station_detector("station", CHANNELS, refit_every=0, **FAST)
    never.score_frame(ts, rows)
    assert never.get_state()["n_fits"] == 1
    # the shift was flagged, so the refits after it did not learn it: it is still flagged at its end
    results = make_station_detector("station", CHANNELS, refit_every=40, **FAST).score_frame(ts, rows)[1]
    assert results[SHIFT.stop - 10 : SHIFT.stop].all()


@pytest.mark.parametrize(
    ("params", "field", "expected"),
    [
        ({"windos": (3,)}, "windos", "Extra inputs"),
        ({"threshold": 1.5}, "threshold", "less than 1"),
        ({"warmup": 3}, "warmup", "greater than or equal to 16"),
        ({"windows": ()}, "windows", "at least 1"),
        ({"variance": 0}, "variance", "greater than 0"),
        ({"threshold": 0.9, "release": 0.95}, "release", "cannot exceed threshold"),
        ({"warmup": 500, "train_window": 100}, "train_window", "at least warmup"),
    ],
)
def test_bad_params_name_the_field_and_what_was_expected(params: dict, field: str, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        make_station_detector("station", CHANNELS, **params)
    assert field in str(info.value) and expected in str(info.value)


def test_model_params_belong_to_their_model() -> None:
    make_station_detector("station_iforest", CHANNELS, n_estimators=20)
    with pytest.raises(ValueError, match="n_estimators"):
        make_station_detector("station_pca", CHANNELS, n_estimators=20)


def test_channels_must_match_the_rows() -> None:
    det = make_station_detector("station", CHANNELS)
    with pytest.raises(ValueError, match="4 channels"):
        det.score_frame([datetime(2026, 1, 1)], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="4 channels"):
        det.update(datetime(2026, 1, 1), np.zeros(3))
    det.update(datetime(2026, 1, 1), np.zeros((1, 4)))  # one row as a 1 × channels frame
    assert det.n_seen == 1
    with pytest.raises(ValueError, match="unique"):
        make_station_detector("station", ["a", "a"])


def test_features_carry_readings_forward_and_equal_one_row_at_a_time() -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(300, 3))
    rows[rng.random(rows.shape) < 0.2] = np.nan
    rows[:40, 1] = np.nan
    whole = StationFeatures(3, (4, 30)).push_many(rows)
    single = StationFeatures(3, (4, 30))
    one = np.vstack([single.push_many(rows[i : i + 1]) for i in range(300)])
    np.testing.assert_array_equal(whole, one)
    assert np.isnan(whole[:40, 1]).all() and not np.isnan(whole[40:]).any()
    # window 4 of channel 0 at row 10 = mean of rows 7..10 after carrying values forward
    filled = rows[:, 0].copy()
    for i in range(1, 300):
        if np.isnan(filled[i]):
            filled[i] = filled[i - 1]
    assert whole[10, 0] == pytest.approx(filled[7:11].mean())


@pytest.mark.parametrize("name", ["station", "station_ecod"])
def test_a_station_flat_through_its_warm_up_scores_mid_and_flags_the_first_change(name: str) -> None:
    rows = np.full((200, 2), 5.0)
    rows[:, 1] = np.nan  # and a channel that never reports
    rows[150:, 0] = 6.0
    det = make_station_detector(name, ["a", "b"], warmup=50, windows=(3,), onset_rows=1)
    scores, flags = det.score_frame([datetime(2026, 1, 1)] * 200, rows)
    assert (scores[50:150] == 0.5).all() and not flags[:150].any()
    assert flags[150:].all()


def test_an_anomaly_starts_after_onset_rows_in_a_row_at_the_threshold() -> None:
    rows = np.full((200, 2), 5.0)
    rows[:, 1] = np.nan
    rows[120, 0] = 6.0  # one row, then two, then a lasting change
    rows[130:132, 0] = 6.0
    rows[150:, 0] = 6.0
    params = {"warmup": 50, "windows": (1,)}
    scores, flags = make_station_detector("station", ["a", "b"], onset_rows=3, **params).score_frame(
        [datetime(2026, 1, 1)] * 200, rows
    )
    assert (scores[[120, 130, 131]] >= 0.999).all()
    assert not flags[:152].any() and flags[152:].all()
    _, at_once = make_station_detector("station", ["a", "b"], onset_rows=1, **params).score_frame(
        [datetime(2026, 1, 1)] * 200, rows
    )
    assert at_once[[120, 130, 131]].all() and at_once[150:].all()


def test_a_lasting_new_level_becomes_the_new_normal_at_a_refit() -> None:
    """Flagged rows stay out of refits only while they are under half the window: an alarm cannot stick for ever."""
    ts, rows = _frame(n=1000)
    rows[450:, 1] = rows[450:, 1] + 8 * rows[:400, 1].std()  # the shift never ends
    det = make_station_detector("station", CHANNELS, windows=(3, 12), warmup=120, train_window=240, refit_every=60)
    flags = det.score_frame(ts, rows)[1]
    assert flags[455:550].all()  # first an anomaly
    assert not flags[700:].any()  # then, once it fills most of the training window, the station's normal


def _plant_frame(n: int, seed: int = 5) -> tuple[list[datetime], np.ndarray]:
    """A pump-station-like frame: quantised flow, pressure and current that follow it, a slow
    temperature, a jittery vibration RMS; a channel silent at first, gaps, a fault and a new level."""
    rng = np.random.default_rng(seed)
    flow = np.round(30 + rng.normal(0, 1, n).cumsum() * 0.03 + rng.normal(0, 0.4, n), 1)
    rows = np.column_stack(
        [
            2.0 + 0.05 * flow + rng.normal(0, 0.03, n),
            flow,
            1.0 + 0.02 * flow + rng.normal(0, 0.02, n),
            60 + np.linspace(0, 4, n) + rng.normal(0, 0.1, n),
            np.abs(rng.normal(0.3, 0.05, n)),
            np.round(rng.normal(5, 0.2, n), 2),
        ]
    )
    rows[:90, 4] = np.nan  # a channel that starts reporting late
    rows[rng.random(rows.shape) < 0.03] = np.nan
    rows[1200:1300, 1] -= 4.0  # a valve half closed
    rows[1900:, 3] += 3.0  # the temperature settles higher
    t0 = datetime(2026, 11, 1)
    return [t0 + timedelta(minutes=5 * i) for i in range(n)], rows


def test_update_row_by_row_equals_score_frame_at_the_default_windows_and_warm_up() -> None:
    # the pipeline's one-row path (features, scoring, hysteresis, training window) against the
    # frame path, across refits, buffer wrap-arounds and a state round trip taken mid-stream
    ts, rows = _plant_frame(2600)
    params = {"train_window": 500, "refit_every": 300, "release": 0.999}
    scores, flags = make_station_detector("station", CHANNELS + ["vibration", "speed"], **params).score_frame(ts, rows)
    one = make_station_detector("station", CHANNELS + ["vibration", "speed"], **params)
    results = [one.update(t, r) for t, r in zip(ts[:1500], rows[:1500], strict=True)]
    resumed = make_station_detector("station", CHANNELS + ["vibration", "speed"], **params)
    resumed.set_state(pickle.loads(pickle.dumps(one.get_state())))
    results += [resumed.update(t, r) for t, r in zip(ts[1500:], rows[1500:], strict=True)]
    np.testing.assert_array_equal(scores, [r.score for r in results])
    np.testing.assert_array_equal(flags, [r.is_anomaly for r in results])
    assert flags[1200:1300].any() and resumed.n_fits == 8


def test_features_one_row_at_a_time_resume_from_state_exactly() -> None:
    rows = _plant_frame(1500)[1]
    whole = StationFeatures(6, (10, 60)).push_many(rows)
    first = StationFeatures(6, (10, 60))
    got = [first.push_one(r) for r in rows[:50]]  # state saved before the longest window is full
    second = StationFeatures(6, (10, 60))
    second.set_state(first.get_state())
    got += [second.push_one(r) for r in rows[50:1400]]
    third = StationFeatures(6, (10, 60))
    third.set_state(second.get_state())
    rest = third.push_many(rows[1400:])
    np.testing.assert_array_equal(np.vstack([np.vstack(got), rest]), whole)


def _settling_frame() -> tuple[list[datetime], np.ndarray]:
    """A fault (flow far off, 450–600), after which the temperature stays a little warmer than in
    training (600 on), then a second fault (750–850)."""
    ts, rows = _frame(n=900, shift=0.0)
    sd = rows[:400].std(axis=0)
    rows[450:600, 1] += 40 * sd[1]
    rows[450:, 3] += 6 * sd[3]
    rows[750:850, 1] += 40 * sd[1]
    return ts, rows


def test_an_episode_ends_when_the_station_settles_and_a_new_fault_starts_another() -> None:
    ts, rows = _settling_frame()
    _, flags = make_station_detector("station", CHANNELS, **FAST).score_frame(ts, rows)
    assert flags[470:600].all()
    assert not flags[650:750].any()  # settled warmer: no longer an anomaly
    assert flags[770:850].all()  # but a new fault is
    scores, stuck = make_station_detector("station", CHANNELS, settle_drop=0.0, **FAST).score_frame(ts, rows)
    assert (scores[650:750] >= 0.999).all() and stuck[650:750].all()  # without settling the alarm stays on

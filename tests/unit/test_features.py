"""Causal windowed features of a series: values, batch = streaming, state, profiles."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from riskwatch.detectors.series.features import FeatureWindow, epoch_seconds

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, tzinfo=BEIJING)


def _series(n: int, minutes: int = 5, seed: int = 0) -> tuple[list[datetime], np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = [T0 + timedelta(minutes=minutes * i) for i in range(n)]
    values = 10 + 3 * np.sin(np.arange(n) * 2 * np.pi * minutes / 1440) + rng.normal(0, 0.5, n)
    values[100:130] = 7.0  # a stuck stretch
    return ts, values


def _named(fw: FeatureWindow, row: np.ndarray) -> dict[str, float]:
    return dict(zip(fw.feature_names, row.tolist(), strict=True))


def test_feature_names_follow_the_windows() -> None:
    fw = FeatureWindow(windows=(12, 3))
    assert fw.windows == (3, 12)
    assert fw.feature_names[:3] == ("value", "diff1", "diff2")
    assert fw.feature_names[3:8] == ("mean_3", "std_3", "min_3", "max_3", "z_3")
    assert fw.feature_names[-3:] == ("daily_residual", "weekly_residual", "since_change_s")
    assert fw.n_features == 3 + 2 * 5 + 3
    assert FeatureWindow(profiles=False).feature_names[-1] == "since_change_s"


def test_values_of_one_point_come_from_its_past() -> None:
    fw = FeatureWindow(windows=(3, 4))
    values = [1.0, 2.0, 4.0, 4.0, 10.0]
    rows = [fw.push(T0 + timedelta(minutes=5 * i), v) for i, v in enumerate(values)]
    first = _named(fw, rows[0])
    assert first["diff1"] == 0 and first["mean_3"] == 1.0 and first["std_3"] == 0 and first["z_3"] == 0
    last = _named(fw, rows[-1])
    assert last["value"] == 10.0 and last["diff1"] == 6.0 and last["diff2"] == 6.0
    past3 = np.array([2.0, 4.0, 4.0])
    assert last["mean_3"] == pytest.approx(past3.mean()) and last["std_3"] == pytest.approx(past3.std())
    assert (last["min_3"], last["max_3"]) == (2.0, 4.0)
    assert last["z_3"] == pytest.approx((10.0 - past3.mean()) / past3.std())
    assert last["mean_4"] == pytest.approx(np.mean([1.0, 2.0, 4.0, 4.0]))
    assert _named(fw, rows[3])["since_change_s"] == 300.0  # 4.0 repeated: 5 minutes since it changed
    assert last["since_change_s"] == 0.0


def test_z_is_clipped_when_the_window_is_flat() -> None:
    fw = FeatureWindow(windows=(3,), z_clip=50.0)
    for i in range(3):
        fw.push(T0 + timedelta(minutes=i), 5.0)
    assert _named(fw, fw.push(T0 + timedelta(minutes=3), 6.0))["z_3"] == 50.0


@pytest.mark.parametrize("cuts", [(), (1,), (7, 8, 60), (200, 201, 399)])
def test_batch_gives_exactly_the_streaming_rows(cuts: tuple[int, ...]) -> None:
    ts, values = _series(600)
    stream = FeatureWindow(windows=(3, 12, 48))
    expected = np.array([stream.push(t, v) for t, v in zip(ts, values)])
    batch = FeatureWindow(windows=(3, 12, 48))
    bounds = [0, *cuts, len(values)]
    rows = np.vstack([batch.push_many(ts[a:b], values[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    np.testing.assert_array_equal(rows, expected)
    assert batch.get_state() == stream.get_state()


def test_rows_are_causal() -> None:
    ts, values = _series(300)
    full = FeatureWindow().push_many(ts, values)
    changed = values.copy()
    changed[200:] += 100.0
    np.testing.assert_array_equal(FeatureWindow().push_many(ts, changed)[:200], full[:200])


def test_state_round_trips_through_json() -> None:
    ts, values = _series(3 * 288, minutes=5)
    first = FeatureWindow()
    first.push_many(ts[:700], values[:700])
    resumed = FeatureWindow()
    resumed.set_state(json.loads(json.dumps(first.get_state())))
    np.testing.assert_array_equal(resumed.push_many(ts[700:], values[700:]), first.push_many(ts[700:], values[700:]))
    with pytest.raises(ValueError, match="saved with"):
        FeatureWindow(windows=(3, 6)).set_state(first.get_state())


def test_daily_profile_residual_once_enough_days() -> None:
    """An hourly series with a strong daily shape: once two days are seen, the residual is small."""
    n = 24 * 5
    ts = [T0 + timedelta(hours=i) for i in range(n)]
    shape = np.where((np.arange(n) % 24 >= 8) & (np.arange(n) % 24 < 20), 50.0, 10.0)
    fw = FeatureWindow(windows=(3, 6), profile_alpha=0.2)
    rows = fw.push_many(ts, shape)
    daily = rows[:, fw.feature_names.index("daily_residual")]
    fallback = shape - rows[:, fw.feature_names.index("mean_6")]
    np.testing.assert_array_equal(daily[:48], fallback[:48])  # first two days: against the window mean
    assert np.abs(daily[48:]).max() < 1e-9  # then against the same hour on earlier days
    assert np.abs(fallback[48:]).max() > 10  # which the rolling window alone cannot explain


def test_profile_buckets_use_the_timestamps_own_wall_clock() -> None:
    """08:00 in Beijing is the 08:00 bucket, whatever zone the machine is in."""
    fw = FeatureWindow(windows=(2,))
    fw.push(datetime(2026, 11, 23, 8, tzinfo=BEIJING), 1.0)
    assert fw.get_state()["daily"][8] == [1, 1.0]
    assert fw.get_state()["weekly"][0 * 24 + 8] == [1, 1.0]  # a Monday


def test_naive_timestamps_are_read_as_utc() -> None:
    naive = datetime(2026, 11, 23, 0, 0)
    assert epoch_seconds(naive) == epoch_seconds(naive.replace(tzinfo=timezone.utc))
    assert epoch_seconds(np.datetime64("2026-11-23T00:00")) == epoch_seconds(naive)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        FeatureWindow(windows=(1, 5))
    fw = FeatureWindow()
    with pytest.raises(ValueError, match="finite"):
        fw.push(T0, float("nan"))
    with pytest.raises(ValueError, match="finite"):
        fw.push_many([T0, T0], [1.0, float("inf")])
    with pytest.raises(ValueError, match="timestamps"):
        fw.push_many([T0], [1.0, 2.0])
    assert fw.n_seen == 0


@pytest.mark.parametrize("windows", [(2, 3, 7), (8, 9, 16, 17), (24, 130, 300)])
def test_streaming_stats_equal_numpys_reductions_bit_for_bit(windows: tuple[int, ...]) -> None:
    """`push` sums on Python floats; it must reproduce numpy's pairwise sums exactly, at every
    window length (under 8, blocks of 8, above 128) and at wildly different magnitudes."""
    rng = np.random.default_rng(7)
    n = 700
    ts = [T0 + timedelta(minutes=5 * i) for i in range(n)]
    values = rng.normal(0, 1, n) * 10.0 ** rng.uniform(-6, 9, n)
    values[200:260] = 3.25  # flat: std exactly 0 in the window, z clipped
    values[400:420] = np.round(values[400:420])
    stream = FeatureWindow(windows=windows)
    expected = np.array([stream.push(t, v) for t, v in zip(ts, values)])
    rows = FeatureWindow(windows=windows).push_many(ts, values)
    np.testing.assert_array_equal(expected, rows)

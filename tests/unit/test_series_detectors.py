"""The series detector contract, checked on every registered detector; behaviour of the default.

Every name in the registry whose module exists is tested — a new detector is covered the moment it
is listed in `riskwatch.detectors.series.registry.SERIES_DETECTORS`. (A name whose module file does
not exist yet is left out rather than skipped; a module that exists but fails to import fails the run.)
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import pickle
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from riskwatch.config.detector_params import SERIES_MODELS
from riskwatch.detectors.series.base import SeriesDetector
from riskwatch.detectors.series.registry import (
    SERIES_DETECTORS as REGISTRY,
)
from riskwatch.detectors.series.registry import (
    known_series_detectors,
    make_series_detector,
    series_detector_class,
)
from riskwatch.detectors.series.robust import DefaultDetector, RobustNoveltyDetector

SERIES_DETECTORS = known_series_detectors()

T0 = datetime(2014, 4, 1, tzinfo=timezone.utc)


def _module_exists(name: str) -> bool:
    module = SERIES_DETECTORS[name].split(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


NAMES = sorted(n for n in SERIES_DETECTORS if _module_exists(n))


def _stamps(n: int, minutes: int = 5) -> list[datetime]:
    return [T0 + timedelta(minutes=minutes * i) for i in range(n)]


def _contract_series(n: int = 1000, seed: int = 3) -> tuple[list[datetime], np.ndarray]:
    """Daily cycle, noise, a spike, a level shift and a short flat line."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = 20 + 4 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.8, n)
    v[520] += 9
    v[700:] += 5
    v[850:870] = v[849]
    return _stamps(n), v


@pytest.fixture(scope="module")
def series() -> tuple[list[datetime], np.ndarray]:
    return _contract_series()


def test_builtin_registry_names_the_default_and_the_pyod_models() -> None:
    assert SERIES_DETECTORS["default"] == "riskwatch.detectors.series.robust:DefaultDetector"
    for name in ("ecod", "iforest", "copod", "hbos", "knn", "lof", "ensemble"):
        assert SERIES_DETECTORS[name].startswith("riskwatch.detectors.series.pyod_models:")
    assert "default" in NAMES and "robust" in NAMES


def test_config_declares_every_builtin_model_with_its_parameters() -> None:
    """Config checks `series_anomaly`'s model and model_params without importing a model; its table
    must name the registry's built-in models, each with its constructor's keyword parameters."""
    assert set(SERIES_MODELS) == set(REGISTRY.builtin)
    for name, accepted in SERIES_MODELS.items():
        parameters = inspect.signature(series_detector_class(name)).parameters.values()
        keywords = {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        assert accepted == keywords, name


def test_registry_refuses_unknown_names_and_malformed_targets() -> None:
    with pytest.raises(KeyError, match="unknown series detector 'nope'"):
        series_detector_class("nope")
    with pytest.raises(ValueError, match="module:attribute"):
        REGISTRY.register("broken", "no_colon_here")
    assert "broken" not in REGISTRY


@pytest.mark.parametrize("name", NAMES)
def test_is_a_series_detector(name: str) -> None:
    assert issubclass(series_detector_class(name), SeriesDetector)


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_finite_and_in_unit_interval(name: str, series) -> None:
    ts, v = series
    scores = np.asarray(make_series_detector(name).score_series(ts, v), dtype=float)
    assert scores.shape == (len(v),)
    assert np.all(np.isfinite(scores))
    assert np.all((scores >= 0.0) & (scores <= 1.0))


@pytest.mark.parametrize("name", NAMES)
def test_causal_appending_points_never_changes_past_scores(name: str, series) -> None:
    ts, v = series
    full = np.asarray(make_series_detector(name).score_series(ts, v), dtype=float)
    for cut in (400, 760):
        prefix = np.asarray(make_series_detector(name).score_series(ts[:cut], v[:cut]), dtype=float)
        np.testing.assert_allclose(prefix, full[:cut], rtol=1e-9, atol=1e-12)
    # a wild future does not leak into the past either
    wild = v.copy()
    wild[800:] = -wild[800:] * 50
    other = np.asarray(make_series_detector(name).score_series(ts, wild), dtype=float)
    np.testing.assert_allclose(other[:800], full[:800], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_score_series_equals_update_one_by_one(name: str, series) -> None:
    ts, v = series
    batch = np.asarray(make_series_detector(name).score_series(ts, v), dtype=float)
    det = make_series_detector(name)
    single = np.array([det.update(t, float(x)) for t, x in zip(ts, v)])
    np.testing.assert_allclose(single, batch, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_returns_zero_until_warmed_up(name: str, series) -> None:
    ts, v = series
    det = make_series_detector(name)
    seen_warm = False
    for t, x in zip(ts, v):
        warm = det.warmed_up
        score = det.update(t, float(x))
        if not warm:
            assert score == 0.0
        seen_warm = seen_warm or warm
    assert seen_warm and det.warmed_up


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("codec", ["none", "pickle", "json"])
def test_state_round_trip_gives_identical_future_scores(name: str, codec: str, series) -> None:
    ts, v = series
    cut = 600
    straight = np.asarray(make_series_detector(name).score_series(ts, v), dtype=float)
    det = make_series_detector(name)
    det.score_series(ts[:cut], v[:cut])
    state = det.get_state()
    if codec == "pickle":
        state = pickle.loads(pickle.dumps(state))
    elif codec == "json":
        try:
            state = json.loads(json.dumps(state))
        except (TypeError, ValueError):
            # the contract allows picklable-only state (e.g. numpy arrays); it must then pickle
            state = pickle.loads(pickle.dumps(state))
    resumed = make_series_detector(name)
    resumed.set_state(state)
    rest = np.asarray(resumed.score_series(ts[cut:], v[cut:]), dtype=float)
    np.testing.assert_allclose(rest, straight[cut:], rtol=1e-9, atol=1e-12)
    # and the original keeps going the same way
    again = np.asarray(det.score_series(ts[cut:], v[cut:]), dtype=float)
    np.testing.assert_allclose(again, straight[cut:], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name: str, series) -> None:
    ts, v = series
    a = np.asarray(make_series_detector(name).score_series(ts, v), dtype=float)
    b = np.asarray(make_series_detector(name).score_series(ts, v), dtype=float)
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------
# the default detector


def _seasonal_noise(n: int, seed: int, sd: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 10 * np.sin(2 * np.pi * t / 288) + 3 * np.sin(2 * np.pi * t / 96) + rng.normal(0, sd, n)


def _score(v: np.ndarray, minutes: int = 5) -> np.ndarray:
    return DefaultDetector().score_series(_stamps(len(v), minutes), v)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_default_spike_in_noisy_seasonal_data_beats_every_normal_point(seed: int) -> None:
    v = _seasonal_noise(3000, seed)
    v[2400] += 7.0  # 7 noise sds, well inside the daily range of the signal
    s = _score(v)
    normal = np.delete(s, [2400, 2401])[450:]  # the point after the spike jumps back: not normal either
    assert s[2400] > normal.max()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_level_shift_is_flagged_at_onset_then_decays(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, onset = 3000, 2000
    v = 100 + rng.normal(0, 2.0, n)
    v[onset:] += 12.0
    s = _score(v)
    before = s[450:onset]
    at_onset = s[onset : onset + 5].max()
    assert at_onset > before.max()
    # it does not stay alarmed: a few dozen points later the new level is ordinary
    later = s[onset + 100 : onset + 400]
    assert later.max() < at_onset
    assert np.median(later) <= np.quantile(before, 0.9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_flat_line_in_noisy_series_is_flagged(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, start = 3000, 2200
    v = 30 + np.convolve(rng.normal(0, 1, n + 9), np.ones(10) / 10, mode="valid")[:n] * 3
    v[start : start + 120] = v[start - 1]  # the sensor repeats its last reading
    s = _score(v)
    assert s[start : start + 30].max() > s[450:start].max()


def test_default_seasonal_break_in_range_is_flagged() -> None:
    """A daily peak that does not happen: every value stays inside the normal range."""
    v = _seasonal_noise(3000, 7, sd=0.5)
    day = np.arange(3000) % 288
    missing = (np.arange(3000) >= 2304) & (np.arange(3000) < 2304 + 288) & (day > 40) & (day < 100)
    v[missing] = 50 + np.random.default_rng(8).normal(0, 0.5, missing.sum())
    s = _score(v)
    assert s[missing].max() > s[450:2304].max()


def test_default_scores_zero_while_warming_up_and_handles_gaps() -> None:
    v = _seasonal_noise(600, 4)
    det = DefaultDetector()
    ts = _stamps(600)
    scores = [det.update(t, x) for t, x in zip(ts[:100], v[:100])]
    assert scores == [0.0] * 100 and det.warmed_up
    # a missing value returns the last score and is not learned
    det2 = DefaultDetector()
    det2.score_series(ts[:300], v[:300])
    last = det2.last_score
    before = det2.get_state()
    assert det2.update(ts[300], float("nan")) == last
    assert det2.update(ts[300], None) == last  # type: ignore[arg-type]
    assert det2.get_state() == before
    # score_series with NaNs carries the score the same way
    w = v.copy()
    w[[150, 151, 400]] = np.nan
    batch = DefaultDetector().score_series(ts, w)
    det3 = DefaultDetector()
    single = [det3.update(t, x) for t, x in zip(ts, w)]
    np.testing.assert_array_equal(batch, single)
    assert batch[151] == batch[149] and batch[400] == batch[399]


def test_default_state_is_plain_json_and_update_equals_batch_exactly() -> None:
    v = _seasonal_noise(2500, 5)
    v[1800:] += 20
    ts = _stamps(2500)
    det = DefaultDetector()
    batch = det.score_series(ts, v)
    det1 = DefaultDetector()
    single = np.array([det1.update(t, x) for t, x in zip(ts, v)])
    np.testing.assert_array_equal(single, batch)  # bit for bit, not just close
    assert json.loads(json.dumps(det.get_state())) == det.get_state()
    assert det.period == 288  # daily period read off 5-minute timestamps


def test_default_without_timestamps_or_with_odd_inputs() -> None:
    det = DefaultDetector()
    out = det.score_series(list(range(500)), np.r_[np.zeros(250), np.ones(250)])  # integer "timestamps"
    assert np.all((out >= 0) & (out <= 1)) and det.period == 0
    assert out[250] == out.max()  # the step in a constant series is the event
    const = DefaultDetector().score_series(_stamps(400), np.full(400, 7.0))
    assert np.all(const[100:] < 0.5)
    huge = DefaultDetector().score_series(_stamps(400), np.r_[np.random.default_rng(0).normal(0, 1, 399), 1e300])
    assert 0.0 <= huge[-1] <= 1.0 and huge[-1] == huge.max()


def test_default_params_are_checked() -> None:
    for bad in ({"history": 10}, {"scales": [1]}, {"refractory": 0}, {"features": ["nope"]}, {"min_reference": 5}):
        with pytest.raises(ValueError):
            RobustNoveltyDetector(**bad)
    only_value = RobustNoveltyDetector(features=["value"])
    v = _seasonal_noise(800, 9)
    v[700] += 30
    s = only_value.score_series(_stamps(800), v)
    assert s[700] == s.max()


def test_default_is_fast_enough() -> None:
    v = _seasonal_noise(20_000, 6)
    start = time.process_time()
    _score(v)
    elapsed = time.process_time() - start
    assert elapsed < 10.0, f"{20_000 / elapsed:.0f} points/s"  # ~20k+/s on a laptop core; generous for CI
    assert not math.isnan(elapsed)

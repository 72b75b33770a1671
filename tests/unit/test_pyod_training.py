"""Training-window exclusion of PyOD series detectors: a long episode is not learned as normal."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from riskwatch.detectors.series import pyod_models as pm
from riskwatch.detectors.series.training import training_mask

T0 = datetime(2026, 11, 23, tzinfo=UTC)
N = 420
SHIFT = 200  # a level shift from here to the end: longer than two refit intervals
PARAMS = {"warmup": 64, "refit_every": 64, "train_window": 320, "windows": (3, 8)}


def _shifted() -> tuple[list[datetime], np.ndarray]:
    rng = np.random.default_rng(11)
    ts = [T0 + timedelta(minutes=5 * i) for i in range(N)]
    values = 1.0 + rng.normal(0, 0.01, N)
    values[SHIFT:] += 0.2
    return ts, values


def test_mask_keeps_the_expected_tail_and_drops_only_the_excess() -> None:
    normal = np.linspace(0.0, 0.995, 200)  # 1 row ≥ 0.99 of 200: within (1 − 0.99)·200 = 2
    assert training_mask(normal, 0.99, 0.5, 16).all()
    scores = np.concatenate([np.full(150, 0.5), np.full(50, 0.999)])
    scores[10] = 0.995  # one more at or above the level
    keep = training_mask(scores, 0.99, 0.5, 16)
    assert int((~keep).sum()) == 51 - 2  # the excess over the 2 expected, highest first
    assert int((~keep[150:]).sum()) == 49 and keep[:150].all()


def test_mask_falls_back_to_the_whole_window_when_too_little_would_remain() -> None:
    scores = np.concatenate([np.full(80, 0.2), np.full(120, 0.9999)])
    assert training_mask(scores, 0.99, 0.5, 16).all()  # 82 of 200 would remain: under half
    assert not training_mask(scores, 0.99, 0.4, 16).all()
    assert training_mask(scores, None, 0.5, 16).all()


@pytest.mark.parametrize("cls", [pm.ECODDetector, pm.KNNDetector], ids=lambda c: c.name)
def test_a_shift_longer_than_the_refit_interval_still_scores_high_after_a_refit(cls: type[pm.PyODSeriesDetector]) -> None:
    ts, values = _shifted()
    fit_after_shift = 64 + 64 * ((SHIFT - 64) // 64 + 2)  # the second refit inside the shift: 320
    plain = cls(**PARAMS, exclude_above=None).score_series(ts, values)
    kept_out = cls(**PARAMS).score_series(ts, values)
    after = slice(fit_after_shift, fit_after_shift + 40)
    assert np.median(kept_out[after]) > 0.99  # still beyond what the model learned as normal
    assert np.median(plain[after]) < 0.99  # learning every row taught the model the shift
    assert np.median(kept_out[SHIFT:fit_after_shift]) > 0.99  # and before: the shift was never learned


def test_exclusion_keeps_the_contract_update_equals_batch_and_state_round_trip() -> None:
    ts, values = _shifted()
    batch = pm.ECODDetector(**PARAMS).score_series(ts, values)
    stream = pm.ECODDetector(**PARAMS)
    np.testing.assert_array_equal([stream.update(t, float(v)) for t, v in zip(ts, values)], batch)
    half = pm.ECODDetector(**PARAMS)
    half.score_series(ts[:290], values[:290])
    resumed = pm.ECODDetector(**PARAMS)
    resumed.set_state(pickle.loads(pickle.dumps(half.get_state())))
    np.testing.assert_array_equal(resumed.score_series(ts[290:], values[290:]), batch[290:])
    prefix = pm.ECODDetector(**PARAMS).score_series(ts[:300], values[:300])
    np.testing.assert_array_equal(prefix, batch[:300])


def test_without_exclusion_every_fit_sees_the_whole_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """exclude_above=None is the plain window of before: each fit's rows are exactly the last train_window rows."""
    seen: list[tuple[int, int]] = []
    original = pm._ModelBank.fit

    def spying_fit(bank: pm._ModelBank) -> None:
        seen.append((len(bank._window), len(bank._window)))
        original(bank)

    shapes: list[int] = []
    original_scaler = pm._RobustScaler.__init__

    def spying_scaler(self: pm._RobustScaler, x: np.ndarray) -> None:
        shapes.append(x.shape[0])
        original_scaler(self, x)

    monkeypatch.setattr(pm._ModelBank, "fit", spying_fit)
    monkeypatch.setattr(pm._RobustScaler, "__init__", spying_scaler)
    ts, values = _shifted()
    pm.ECODDetector(**PARAMS, exclude_above=None).score_series(ts, values)
    assert shapes == [rows for rows, _ in seen]
    seen.clear()
    shapes.clear()
    pm.ECODDetector(**PARAMS).score_series(ts, values)
    assert any(fit_rows < rows for fit_rows, (rows, _) in zip(shapes, seen))


def test_a_state_saved_without_row_scores_restores_as_unscored_rows() -> None:
    ts, values = _shifted()
    old = pm.ECODDetector(**PARAMS, exclude_above=None)
    old.score_series(ts[:150], values[:150])
    state = old.get_state()
    del state["bank"]["row_scores"]  # what a detector saved before scores were kept looks like
    resumed = pm.ECODDetector(**PARAMS, exclude_above=None)
    resumed.set_state(state)
    reference = pm.ECODDetector(**PARAMS, exclude_above=None).score_series(ts, values)
    np.testing.assert_array_equal(resumed.score_series(ts[150:], values[150:]), reference[150:])


def test_bad_exclusion_parameters_fail_when_built() -> None:
    with pytest.raises(ValueError, match="exclude_above"):
        pm.ECODDetector(**PARAMS, exclude_above=1.5)
    with pytest.raises(ValueError, match="exclude_min_keep"):
        pm.ECODDetector(**PARAMS, exclude_min_keep=-0.1)


def test_ensemble_excludes_by_its_members_largest_score_and_keeps_the_contract() -> None:
    ts, values = _shifted()

    def make() -> pm.EnsembleDetector:
        return pm.EnsembleDetector(("ecod", "knn"), include_default=False, **PARAMS)  # type: ignore[arg-type]

    batch = make().score_series(ts, values)
    stream = make()
    np.testing.assert_array_equal([stream.update(t, float(v)) for t, v in zip(ts, values)], batch)
    plain = pm.EnsembleDetector(("ecod", "knn"), include_default=False, exclude_above=None, **PARAMS)  # type: ignore[arg-type]
    after = slice(320, 360)
    assert np.median(batch[after]) > np.median(plain.score_series(ts, values)[after])

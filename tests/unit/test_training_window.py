"""`TrainingWindow` keeps exactly what a bounded deque of rows and scores kept, in the same order."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskwatch.detectors.series.training import TrainingWindow


@given(capacity=st.integers(1, 12), batches=st.lists(st.integers(-3, 30), max_size=16))
def test_the_ring_equals_a_bounded_deque(capacity: int, batches: list[int]) -> None:
    """A batch of k rows is `extend` for k >= 0 and -k single `append`s for k < 0."""
    window = TrainingWindow(capacity)
    rows: deque[list[float]] = deque(maxlen=capacity)
    scores: deque[float] = deque(maxlen=capacity)
    counter = 0
    for size in batches:
        batch = np.arange(counter, counter + abs(size), dtype=float)
        counter += abs(size)
        block = np.column_stack([batch, -batch, batch * 0.5])
        if size >= 0:
            window.extend(block, batch / 100.0)
        else:
            for row, score in zip(block, batch / 100.0, strict=True):
                window.append(row, float(score))
        rows.extend([[v, -v, v * 0.5] for v in batch.tolist()])
        scores.extend((batch / 100.0).tolist())
        assert len(window) == len(rows)
        if rows:
            np.testing.assert_array_equal(window.rows(), np.array(rows))
        else:
            assert window.rows().shape == (0, 0)
        np.testing.assert_array_equal(window.scores(), np.array(scores))


def test_rows_and_scores_must_agree_and_keep_their_width() -> None:
    window = TrainingWindow(4)
    with pytest.raises(ValueError, match="3 rows but 2 scores"):
        window.extend(np.zeros((3, 2)), np.zeros(2))
    window.extend(np.zeros((1, 2)), np.zeros(1))
    with pytest.raises(ValueError, match="rows of 3 features after rows of 2"):
        window.extend(np.zeros((1, 3)), np.zeros(1))
    with pytest.raises(ValueError, match="capacity"):
        TrainingWindow(0)

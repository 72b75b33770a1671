"""Causal windowed features of a station's channels: rolling means over a few past windows.

A station's channels are noisy (a pump's flow rate flips between quantised readings, an
accelerometer's RMS jitters) while the faults worth a warning are sustained shifts: a valve
closing moves the mean of the flow for minutes. Rolling means over a short and a long window
(the current row included) keep the shift and lose the jitter, so a model fitted on them
flags an episode rather than single noisy readings.

A channel with no reading in a row carries its last value forward; before its first reading
its features are NaN (the detector imputes them). `StationFeatures.push_many` builds the rows of a
whole frame, `push_one` a single row (the pipeline's path, without a frame's scratch arrays);
each mean is one numpy reduction over the same contiguous window in both, so a row's features
are the same bit for bit whether it comes alone or in a frame.

>>> import numpy as np
>>> f = StationFeatures(n_channels=2, windows=(2, 3))
>>> f.push_many(np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 6.0]])).tolist()
[[1.0, nan, 1.0, nan], [2.0, 4.0, 2.0, 4.0], [3.0, 5.0, 2.3333333333333335, 5.0]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Rows per chunk of a frame, so the (rows × channels × window) scratch array stays small.
_CHUNK_ROWS = 4096

#: Spare columns of the row-by-row history before it is moved back to the front.
_HISTORY_SPARE = 1024


class StationFeatures:
    """Streaming rolling means of every channel over each window (in rows).

    Feature columns are ordered window by window, channel by channel:
    ``mean{w}[c]`` for w in `windows`, c in channels; `channel_of` maps each column to its channel.
    """

    def __init__(self, n_channels: int, windows: Sequence[int]) -> None:
        ws = tuple(sorted({int(w) for w in windows}))
        if n_channels < 1:
            raise ValueError(f"need at least one channel, got {n_channels}")
        if not ws or ws[0] < 1:
            raise ValueError(f"windows must be lengths of at least 1 row, got {tuple(windows)!r}")
        self.n_channels = int(n_channels)
        self.windows = ws
        self.channel_of = np.tile(np.arange(self.n_channels), len(ws))
        self._reset()

    @property
    def n_features(self) -> int:
        return self.n_channels * len(self.windows)

    def push_many(self, rows: np.ndarray) -> np.ndarray:
        """Feature rows of a frame (n × channels, NaN for no reading) in order; then learn the rows."""
        rows = np.asarray(rows, dtype=float)
        if rows.ndim != 2 or rows.shape[1] != self.n_channels:
            raise ValueError(f"expected rows of {self.n_channels} channels, got shape {rows.shape}")
        if rows.shape[0] == 1:
            return self.push_one(rows[0])[None, :]
        out = np.empty((rows.shape[0], self.n_features))
        for lo in range(0, rows.shape[0], _CHUNK_ROWS):
            out[lo : lo + _CHUNK_ROWS] = self._push_chunk(rows[lo : lo + _CHUNK_ROWS])
        return out

    def push_one(self, row: np.ndarray) -> np.ndarray:
        """The feature row of one row (channels, NaN for no reading); then learn it.

        The pipeline's path, row by row: the same sums as `push_many` over the same contiguous
        windows, without the frame's scratch arrays.
        """
        last = self._last
        filled = np.where(np.isnan(row), last, row)  # carry forward
        self._last = filled
        pos = self._pos
        if pos == self._hist.shape[1]:
            keep = self.windows[-1] - 1
            self._hist[:, :keep] = self._hist[:, pos - keep : pos]
            pos = keep
        hist = self._hist
        hist[:, pos] = filled
        pos += 1
        self._pos = pos
        self._n_rows += 1
        nc = self.n_channels
        out = np.empty(self.n_features)
        if self._n_rows - self._first_full >= self.windows[-1]:
            # every channel read for at least the longest window: no NaN in any window
            for j, w in enumerate(self.windows):
                out[j * nc : (j + 1) * nc] = np.add.reduce(hist[:, pos - w : pos], axis=1) / w
            return out
        if self._first_full > self._n_rows and not np.isnan(filled).any():
            self._first_full = self._n_rows - 1
        for j, w in enumerate(self.windows):
            block = hist[:, pos - w : pos]
            valid = ~np.isnan(block)
            total = np.add.reduce(np.where(valid, block, 0.0), axis=1)
            count = np.add.reduce(valid, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[j * nc : (j + 1) * nc] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return out

    def get_state(self) -> dict[str, Any]:
        return {"windows": list(self.windows), "past": self._past().tolist(), "last": self._last.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        if list(state["windows"]) != list(self.windows):
            raise ValueError(f"feature state was saved with windows {state['windows']}, these are {list(self.windows)}")
        past = np.array(state["past"], dtype=float).reshape(-1, self.n_channels)
        self._reset()
        self._last = np.array(state["last"], dtype=float)
        self._set_past(past)

    # ------------------------------------------------------------------ internals

    def _reset(self) -> None:
        keep = self.windows[-1] - 1
        # channel-major history: columns [pos − (longest − 1), pos) are the last rows after carrying
        # values forward (NaN before a first reading, and in front of the first row)
        self._hist = np.full((self.n_channels, keep + _HISTORY_SPARE), np.nan)
        self._pos = keep
        self._n_rows = 0  # rows pushed (or restored into the history)
        self._first_full = math.inf  # row count when every channel first had a value (a row with no NaN)
        self._last = np.full(self.n_channels, np.nan)

    def _past(self) -> np.ndarray:
        """The last (longest window − 1) rows pushed, fewer before that many came (rows × channels)."""
        keep = min(self.windows[-1] - 1, self._n_rows)
        return self._hist[:, self._pos - keep : self._pos].T.copy()

    def _set_past(self, past: np.ndarray) -> None:
        keep = self.windows[-1] - 1
        past = past[-keep:] if keep > 0 else past[:0]
        self._hist[:, :keep] = np.nan
        self._hist[:, keep - past.shape[0] : keep] = past.T
        self._pos = keep
        self._n_rows = past.shape[0]
        # conservatively the general (NaN-aware) path until a full window of complete rows
        complete = ~np.isnan(past).any(axis=1)
        self._first_full = math.inf
        if past.shape[0] and complete[-1] and not np.isnan(self._last).any():
            run = past.shape[0] - (int(np.flatnonzero(~complete)[-1]) + 1 if (~complete).any() else 0)
            self._first_full = self._n_rows - run

    def _carry_forward(self, rows: np.ndarray) -> np.ndarray:
        """Each NaN replaced by the channel's last reading before it (NaN while there is none)."""
        filled = np.vstack([self._last[None, :], rows])
        idx = np.where(np.isnan(filled), 0, np.arange(filled.shape[0])[:, None])
        np.maximum.accumulate(idx, axis=0, out=idx)
        return np.take_along_axis(filled, idx, axis=0)[1:]

    def _push_chunk(self, rows: np.ndarray) -> np.ndarray:
        n = rows.shape[0]
        if n == 0:
            return np.empty((0, self.n_features))
        filled = self._carry_forward(rows)
        longest = self.windows[-1]
        keep = longest - 1
        # channel-major, the past (NaN-padded in front) then the new rows: every window is a
        # contiguous slice of a channel
        padded = np.empty((self.n_channels, keep + n))
        padded[:, :keep] = self._hist[:, self._pos - keep : self._pos]
        padded[:, keep:] = filled.T
        out = np.empty((n, self.n_features))
        for j, w in enumerate(self.windows):
            # windows ending at each new row: in padded coordinates row p ends at p + longest − 1
            views = sliding_window_view(padded, w, axis=1)  # (channels, positions, w)
            start = keep - (w - 1)
            block = np.ascontiguousarray(views[:, start : start + n, :])  # (channels, n, w)
            valid = ~np.isnan(block)
            total = np.add.reduce(np.where(valid, block, 0.0), axis=2)
            count = np.add.reduce(valid, axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            out[:, j * self.n_channels : (j + 1) * self.n_channels] = mean.T
        self._hist[:, :keep] = padded[:, n:]
        self._pos = keep
        complete = ~np.isnan(filled).any(axis=1)
        if self._first_full == math.inf and complete.any():
            # carried forward, a row with every channel is followed only by such rows
            self._first_full = self._n_rows + int(np.argmax(complete))
        self._n_rows += n
        self._last = filled[-1]
        return out

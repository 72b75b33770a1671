"""`riskwatch score --station`: score multichannel CSVs with a station detector, row for row.

Each INPUT has a header with a ``timestamp`` column; every other column with at least one
number in it is a channel (cells that are not finite numbers are NaN: no reading). The
separator is ``,`` unless the header has none and has ``;`` or tabs (SKAB's files use ``;``).
Each file gets a fresh detector over its channels, which scores its rows causally in file
order; ``DIR/<input file name>`` receives ``timestamp,anomaly_score,is_anomaly`` row for row:
the timestamp text as read, the score in [0, 1] and the detector's own decision as 0/1. A row
whose timestamp cannot be read is written with the previous row's score and decision and is
not shown to the detector.

Every input is read and checked before anything is scored, so a missing file, a header without
``timestamp`` or a file without numeric columns fails the whole command (exit 2) with the file
and the reason.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from riskwatch.config.loader import describe_validation_error
from riskwatch.tools.score.scoring import (
    ScoreError,
    _format_score,
    _params_model,
    load_registered,
    load_score_config,
    parse_timestamp,
)


@dataclass(frozen=True)
class StationTable:
    """One input file, read and checked."""

    source: Path
    stamps_text: list[str]
    channels: list[str]
    values: list[list[float]]  # one row per body row, one value per channel (NaN for none)


@dataclass(frozen=True)
class StationResult:
    source: Path
    target: Path
    rows: int
    channels: list[str]
    bad_rows: int


# ------------------------------------------------------------------------------------ detector


def _station_class(name: str) -> type:
    from riskwatch.detectors.station.registry import known_station_detectors, station_detector_class

    return load_registered("station detector", name, known_station_detectors(), station_detector_class)


def resolve_station_detector(config: Path | None, detector: str | None) -> tuple[str, dict[str, Any]]:
    """The station detector name and validated params from ``--detector`` and ``--config``.

    A config file's ``detector`` counts only when it names one; otherwise the default station detector.
    """
    from riskwatch.detectors.station.registry import DEFAULT_STATION_DETECTOR

    cfg = load_score_config(config) if config is not None else None
    from_file = cfg.detector if cfg is not None and "detector" in cfg.model_fields_set else None
    name = detector or from_file or DEFAULT_STATION_DETECTOR
    try:
        cls = _station_class(name)
    except ScoreError as exc:
        if config is not None and detector is None and from_file is not None:
            raise ScoreError(f"{config}: detector: {exc}") from exc
        raise
    params = dict(cfg.params) if cfg is not None else {}
    if not params:
        return name, {}
    where = str(config)
    model: type[BaseModel] = getattr(cls, "params_model", None) or _params_model(cls)
    try:
        model.model_validate(params)
    except ValidationError as exc:
        raise ScoreError(describe_validation_error(exc, where, "params")) from exc
    try:  # the constructor's own checks
        cls(["probe"], **params)
    except (TypeError, ValueError) as exc:
        raise ScoreError(f"{where}: params: {exc}") from exc
    return name, params


# ------------------------------------------------------------------------------------ files


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan


def _delimiter(header_line: str) -> str:
    if "," in header_line:
        return ","
    if ";" in header_line:
        return ";"
    return "\t" if "\t" in header_line else ","


def read_station_csv(source: Path) -> StationTable:
    """Read and check one input; every problem is a `ScoreError` naming the file."""
    try:
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ScoreError(f"no such input file: {source}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{source}: cannot read: {exc}") from exc
    lines = text.splitlines()
    if not lines:
        raise ScoreError(f"{source}: empty file (expected a header with a timestamp column)")
    table = list(csv.reader(lines, delimiter=_delimiter(lines[0])))
    header = [h.strip() for h in table[0]]
    lowered = [h.lower() for h in header]
    if "timestamp" not in lowered:
        raise ScoreError(f"{source}: header must name a 'timestamp' column, got {table[0]}")
    ti = lowered.index("timestamp")
    body = table[1:]
    others = [j for j in range(len(header)) if j != ti]
    parsed = [[_number(row[j]) if j < len(row) else math.nan for j in others] for row in body]
    numeric = [k for k in range(len(others)) if any(not math.isnan(r[k]) for r in parsed)]
    if not numeric and body:
        raise ScoreError(f"{source}: no numeric columns besides 'timestamp' (columns: {header})")
    if not numeric:  # header only: the channels are every other column
        numeric = list(range(len(others)))
    if not numeric:
        raise ScoreError(f"{source}: no columns besides 'timestamp'")
    return StationTable(
        source=source,
        stamps_text=[row[ti] if ti < len(row) else "" for row in body],
        channels=[header[others[k]] for k in numeric],
        values=[[r[k] for k in numeric] for r in parsed],
    )


def score_station_table(table: StationTable, target: Path, detector: str, params: dict[str, Any]) -> StationResult:
    """Score one read file into `target`."""
    import numpy as np

    from riskwatch.detectors.station.registry import make_station_detector

    good: list[int] = []
    stamps: list[datetime] = []
    for i, t_text in enumerate(table.stamps_text):
        ts = parse_timestamp(t_text)
        if ts is not None:
            good.append(i)
            stamps.append(ts)
    n = len(table.stamps_text)
    scores = [0.0] * n
    flags = [False] * n
    if good:
        det = make_station_detector(detector, table.channels, **params)
        rows = np.array([table.values[i] for i in good], dtype=float).reshape(len(good), len(table.channels))
        got, got_flags = det.score_frame(stamps, rows)
        got = np.nan_to_num(np.asarray(got, dtype=float), nan=0.0, posinf=1.0, neginf=0.0)
        last, last_flag, g = 0.0, False, 0
        for i in range(n):
            if g < len(good) and good[g] == i:
                last, last_flag = float(got[g]), bool(got_flags[g])
                g += 1
            scores[i], flags[i] = last, last_flag
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(["timestamp", "anomaly_score", "is_anomaly"])
            for t_text, score, flag in zip(table.stamps_text, scores, flags, strict=True):
                out.writerow([t_text, _format_score(score), int(flag)])
    except OSError as exc:
        raise ScoreError(f"{target}: cannot write: {exc.strerror}") from exc
    return StationResult(table.source, target, n, table.channels, n - len(good))


def score_station_files(
    inputs: list[Path], out_dir: Path, detector: str, params: dict[str, Any] | None = None
) -> list[StationResult]:
    """Check every input, then score each into `out_dir` with a fresh detector."""
    params = params or {}
    _station_class(detector)
    names: dict[str, Path] = {}
    for path in inputs:
        if path.name in names:
            raise ScoreError(f"two inputs would both be written to {out_dir / path.name}: {names[path.name]} and {path}")
        names[path.name] = path
    tables = [read_station_csv(p) for p in inputs]
    return [score_station_table(t, out_dir / t.source.name, detector, params) for t in tables]

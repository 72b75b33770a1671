"""Score CSV series with a registered series detector: the `--config` file, one file, many files.

What `riskwatch score` does (see the package docstring for the file format); `cli` is the command.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import typing
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from riskwatch.config.loader import ConfigError, describe_validation_error, load_model

#: Total input size above which several files are shared between two worker processes.
PARALLEL_MIN_BYTES = 1_000_000


class ScoreConfig(BaseModel):
    """The ``--config`` file."""

    model_config = ConfigDict(extra="forbid")

    detector: str = Field(default="default", description="registered series detector name")
    params: dict[str, Any] = Field(default_factory=dict, description="constructor parameters of the detector")


class ScoreError(ValueError):
    """A bad command line, config file or input file; the message says which and why."""


@dataclass(frozen=True)
class FileResult:
    source: Path
    target: Path
    rows: int
    bad_rows: int
    error: str | None = None


# ------------------------------------------------------------------------------------ config


def _known_detectors() -> dict[str, str]:
    from riskwatch.detectors.series.registry import known_series_detectors

    return known_series_detectors()


def load_registered(what: str, name: str, known: Mapping[str, str], load: Callable[[str], type]) -> type:
    """The class registered as `name` among `known`, or a ScoreError saying what is known."""
    if name not in known:
        raise ScoreError(f"unknown {what} {name!r}; known: {', '.join(sorted(known))}")
    try:
        return load(name)
    except ImportError as exc:
        raise ScoreError(f"{what} {name!r} is registered but cannot be imported: {exc}") from exc


def require_files(inputs: list[Path]) -> None:
    """Fail before scoring anything when an input file does not exist."""
    missing = [str(p) for p in inputs if not p.is_file()]
    if missing:
        raise ScoreError(f"no such input file: {', '.join(missing)}")


def _detector_class(name: str) -> type:
    from riskwatch.detectors.series.registry import series_detector_class

    return load_registered("detector", name, _known_detectors(), series_detector_class)


def _params_model(cls: type) -> type[BaseModel]:
    """A pydantic model of `cls`'s constructor keyword parameters (unknown ones are errors)."""
    signature = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    fields: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hints.get(name, Any), default)
    return create_model(f"{cls.__name__}Params", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields)


def load_score_config(path: Path) -> ScoreConfig:
    """Read and validate a ``--config`` file (structure only; params are checked with the detector)."""
    try:
        return load_model(path, ScoreConfig)
    except ConfigError as exc:
        raise ScoreError(str(exc)) from exc


def resolve_detector(config: Path | None, detector: str | None) -> tuple[str, dict[str, Any]]:
    """The detector name and validated constructor params from the command line and config file."""
    cfg = load_score_config(config) if config is not None else ScoreConfig()
    name = detector or cfg.detector
    where = str(config) if config is not None else "--detector"
    try:
        cls = _detector_class(name)
    except ScoreError as exc:
        if config is not None and detector is None:
            raise ScoreError(f"{config}: detector: {exc}") from exc
        raise
    if not cfg.params:
        return name, {}
    try:
        checked = _params_model(cls).model_validate(cfg.params)
    except ValidationError as exc:
        raise ScoreError(describe_validation_error(exc, where, "params")) from exc
    params = {k: getattr(checked, k) for k in cfg.params}
    try:  # the constructor's own checks (ranges, combinations)
        cls(**params)
    except (TypeError, ValueError) as exc:
        raise ScoreError(f"{where}: params: {exc}") from exc
    return name, params


# ------------------------------------------------------------------------------------ files


def parse_timestamp(text: str) -> datetime | None:
    """``2014-04-01 00:00:00`` (UTC) or ISO 8601 with an offset, as an aware UTC datetime."""
    text = text.strip()
    if not text:
        return None
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc)


def _parse_value(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _format_score(score: float) -> str:
    return repr(float(min(1.0, max(0.0, score))))


def score_file(source: Path, target: Path, detector: str, params: dict[str, Any]) -> FileResult:
    """Score one CSV into `target`; problems with the file are returned, not raised."""
    import numpy as np

    from riskwatch.detectors.series.registry import make_series_detector

    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        return FileResult(source, target, 0, 0, f"{source}: cannot read: {exc}")
    if not rows:
        return FileResult(source, target, 0, 0, f"{source}: empty file (expected a header with timestamp,value)")
    header = [h.strip().lower() for h in rows[0]]
    try:
        ti, vi = header.index("timestamp"), header.index("value")
    except ValueError:
        return FileResult(source, target, 0, 0, f"{source}: header must name the columns 'timestamp' and 'value', got {rows[0]}")
    body = rows[1:]
    good: list[int] = []
    stamps: list[datetime] = []
    values: list[float] = []
    cells: list[tuple[str, str]] = []
    for i, row in enumerate(body):
        t_text = row[ti] if ti < len(row) else ""
        v_text = row[vi] if vi < len(row) else ""
        cells.append((t_text, v_text))
        ts = parse_timestamp(t_text)
        v = _parse_value(v_text)
        if ts is not None and v is not None:
            good.append(i)
            stamps.append(ts)
            values.append(v)
    scores = [0.0] * len(body)
    if good:
        det = make_series_detector(detector, **params)
        got = np.asarray(det.score_series(stamps, np.asarray(values, dtype=float)), dtype=float)
        if got.shape != (len(good),):
            return FileResult(source, target, len(body), 0, f"{source}: detector {detector!r} returned {got.shape} scores for {len(good)} rows")
        got = np.nan_to_num(got, nan=0.0, posinf=1.0, neginf=0.0)
        last = 0.0
        g = 0
        for i in range(len(body)):
            if g < len(good) and good[g] == i:
                last = float(got[g])
                g += 1
            scores[i] = last
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(["timestamp", "value", "anomaly_score"])
            for (t_text, v_text), score in zip(cells, scores):
                out.writerow([t_text, v_text, _format_score(score)])
    except OSError as exc:
        return FileResult(source, target, len(body), 0, f"{target}: cannot write: {exc.strerror}")
    return FileResult(source, target, len(body), len(body) - len(good))


def _score_job(job: tuple[str, str, str, dict[str, Any]]) -> FileResult:
    source, target, detector, params = job
    return score_file(Path(source), Path(target), detector, params)


def score_files(
    inputs: list[Path], out_dir: Path, detector: str = "default", params: dict[str, Any] | None = None, workers: int | None = None
) -> list[FileResult]:
    """Score every input into `out_dir`; several large inputs share two worker processes."""
    params = params or {}
    _detector_class(detector)  # fail early, once, on an unknown name
    names: dict[str, Path] = {}
    for path in inputs:
        if path.name in names:
            raise ScoreError(f"two inputs would both be written to {out_dir / path.name}: {names[path.name]} and {path}")
        names[path.name] = path
    jobs = [(str(p), str(out_dir / p.name), detector, params) for p in inputs]
    if workers is None:
        size = sum(p.stat().st_size for p in inputs if p.exists())
        workers = min(2, os.cpu_count() or 1, len(inputs)) if size >= PARALLEL_MIN_BYTES else 1
    if workers <= 1 or len(jobs) <= 1:
        return [_score_job(j) for j in jobs]
    # largest files first so the two workers finish together
    order = sorted(range(len(jobs)), key=lambda i: -(Path(jobs[i][0]).stat().st_size if Path(jobs[i][0]).exists() else 0))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = dict(zip(order, pool.map(_score_job, [jobs[i] for i in order])))
    return [done[i] for i in range(len(jobs))]

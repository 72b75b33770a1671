"""The back-test's numbers: detection rate, delays and false findings of a scenario run; event-wise
precision, recall and delay of a labelled series."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.tools.backtest.runner import ScenarioRun
from riskwatch.tools.backtest.truth import (
    DEFAULT_TOLERANCE,
    HEALTH,
    PIPELINE,
    Detection,
    LabelledCsv,
    TruthIncident,
    group_mapper,
    match_time,
    read_labelled_csv,
    signal_detections,
    warning_detections,
)

__all__ = [
    "CsvResult", "Evaluation", "ScenarioReport", "Score", "SeriesScore", "delay", "evaluate", "overall",
    "percentile", "rounded", "run_csv", "runs", "score_alarms", "score_run",
]


def rounded(value: float | None, digits: int = 4) -> float | None:
    """`value` rounded for JSON output; None stays None."""
    return None if value is None else round(value, digits)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), or None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


# ============================================================================= scenario scores


@dataclass
class Score:
    """Detections of one kind (the pipeline's warnings, or one detector's signals) against incidents."""

    incidents: int = 0
    detected: int = 0
    delays: list[float] = field(default_factory=list)  # seconds, one per detected incident
    false: int = 0
    total: int = 0  # detections (warnings or signals) considered
    district_days: float = 0.0

    @property
    def detection_rate(self) -> float | None:
        return self.detected / self.incidents if self.incidents else None

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def p90_delay(self) -> float | None:
        return percentile(self.delays, 90)

    @property
    def false_per_district_day(self) -> float | None:
        return self.false / self.district_days if self.district_days else None

    def __add__(self, other: Score) -> Score:
        return Score(self.incidents + other.incidents, self.detected + other.detected, self.delays + other.delays,
                     self.false + other.false, self.total + other.total, self.district_days + other.district_days)

    def as_dict(self) -> dict[str, Any]:
        """The score as JSON output shows it."""
        return {
            "incidents": self.incidents, "detected": self.detected, "detection_rate": rounded(self.detection_rate),
            "median_delay_s": rounded(self.median_delay, 1), "p90_delay_s": rounded(self.p90_delay, 1),
            "false": self.false, "total": self.total, "district_days": rounded(self.district_days),
            "false_per_district_day": rounded(self.false_per_district_day),
        }


@dataclass
class Evaluation:
    """A score plus, per incident, the first matching detection."""

    score: Score
    first: dict[str, Detection]  # incident id → first matching detection, `at` = when it matched
    false: list[Detection]


def evaluate(detections: Iterable[Detection], incidents: Sequence[TruthIncident], district_days: float,
             tolerance: timedelta = DEFAULT_TOLERANCE) -> Evaluation:
    """Match detections to incidents: detection rate and delays over `incidents`; every
    detection that matches none of them is false."""
    first: dict[str, Detection] = {}
    false: list[Detection] = []
    total = 0
    for det in detections:
        total += 1
        hit = False
        for inc in incidents:
            at = match_time(det, inc, tolerance)
            if at is not None:
                hit = True
                if inc.id not in first or at < first[inc.id].at:
                    first[inc.id] = replace(det, at=at)
        if not hit:
            false.append(det)
    by_id = {inc.id: inc for inc in incidents}
    delays = [(d.at - by_id[i].start).total_seconds() for i, d in first.items()]
    return Evaluation(Score(len(incidents), len(first), delays, len(false), total, district_days), first, false)


def delay(evaluation: Evaluation, inc: TruthIncident) -> float | None:
    """Seconds from the incident's start to its first matching detection, or None if unmatched."""
    det = evaluation.first.get(inc.id)
    return None if det is None else (det.at - inc.start).total_seconds()


@dataclass
class ScenarioReport:
    """Metrics of one scenario run."""

    run: ScenarioRun
    pipeline: Evaluation
    detectors: dict[str, Evaluation]
    health: Evaluation
    group_of: Callable[[str], str] = field(default=lambda category: category, repr=False)
    regions: RegionIndex | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The run and its scores as JSON output shows them."""
        run = self.run
        incidents = []
        for inc in run.incidents:
            warn = self.pipeline.first.get(inc.id)
            incidents.append({
                "id": inc.id, "kind": inc.kind, "street": inc.street, "start": inc.start.isoformat(),
                "end": inc.end.isoformat(), "expected_level": inc.expected_level, "health": inc.health,
                "pipeline": None if warn is None else {
                    "warning_id": warn.ref, "level": warn.level, "delay_s": (warn.at - inc.start).total_seconds()},
                "detectors": {name: delay(ev, inc) for name, ev in self.detectors.items()},
                "health_signal_delay_s": delay(self.health, inc),
            })
        return {
            "scenario": run.name, "start": run.start.isoformat(), "end": run.end.isoformat(), "days": rounded(run.days),
            "events": run.events, "seconds": rounded(run.seconds, 3), "events_per_s": rounded(run.events_per_s, 1),
            "dead_letters": run.dead_letters, "warnings": len({w.warning_id for w in run.warnings}),
            "signals": dict(sorted(Counter(s.detector for s in run.signals).items())),
            PIPELINE: self.pipeline.score.as_dict(),
            "detectors": {name: ev.score.as_dict() for name, ev in self.detectors.items()},
            HEALTH: self.health.score.as_dict(),
            "incidents": incidents,
        }


def score_run(run: ScenarioRun, config: CityConfig, tolerance: timedelta = DEFAULT_TOLERANCE) -> ScenarioReport:
    """Detection rate, delays and false warnings for the pipeline, each detector and health signals."""
    group_of = group_mapper(config)
    regions = RegionIndex(config.regions)
    district_days = len(regions.districts) * run.days
    events = [i for i in run.incidents if not i.health]
    faults = [i for i in run.incidents if i.health]
    pipeline = evaluate(warning_detections(run.warnings, group_of), events, district_days, tolerance)
    signals = signal_detections(run.signals, group_of, regions)
    by_detector: dict[str, list[Detection]] = {name: [] for name in run.detector_names}
    for det in signals:
        by_detector.setdefault(det.by, []).append(det)
    detectors = {
        name: evaluate(dets, faults if name in run.health_detectors else events, district_days, tolerance)
        for name, dets in by_detector.items()
    }
    health = evaluate([d for d in signals if d.health], faults, district_days, tolerance)
    return ScenarioReport(run, pipeline, detectors, health, group_of, regions)


def overall(reports: Sequence[ScenarioReport]) -> dict[str, Any]:
    """Every scenario's scores added up."""
    pipeline, health = Score(), Score()
    detectors: dict[str, Score] = {}
    events, seconds = 0, 0.0
    for rep in reports:
        pipeline += rep.pipeline.score
        health += rep.health.score
        for name, ev in rep.detectors.items():
            detectors[name] = detectors.get(name, Score()) + ev.score
        events += rep.run.events
        seconds += rep.run.seconds
    return {"events": events, "seconds": rounded(seconds, 3), "events_per_s": rounded(events / seconds if seconds else 0.0, 1),
            PIPELINE: pipeline, "detectors": detectors, HEALTH: health}


# ============================================================================= labelled series


def runs(mask: Sequence[bool] | np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True as inclusive (first, last) index pairs."""
    out: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate(mask):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


@dataclass
class SeriesScore:
    """Event-wise scores of alarms against labelled windows."""

    windows: int = 0
    detected: int = 0
    false_alarms: int = 0
    delays: list[float] = field(default_factory=list)  # seconds
    delay_points: list[int] = field(default_factory=list)
    days: float = 0.0

    @property
    def precision(self) -> float | None:
        n = self.detected + self.false_alarms
        return self.detected / n if n else None

    @property
    def recall(self) -> float | None:
        return self.detected / self.windows if self.windows else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None if p is None or r is None else 0.0
        return 2 * p * r / (p + r)

    @property
    def false_per_day(self) -> float | None:
        return self.false_alarms / self.days if self.days > 0 else None

    def __add__(self, other: SeriesScore) -> SeriesScore:
        return SeriesScore(self.windows + other.windows, self.detected + other.detected,
                           self.false_alarms + other.false_alarms, self.delays + other.delays,
                           self.delay_points + other.delay_points, self.days + other.days)

    def as_dict(self) -> dict[str, Any]:
        """The score as JSON output shows it."""
        return {
            "windows": self.windows, "detected": self.detected, "false_alarms": self.false_alarms,
            "precision": rounded(self.precision), "recall": rounded(self.recall), "f1": rounded(self.f1),
            "median_delay_s": rounded(statistics.median(self.delays), 1) if self.delays else None,
            "median_delay_points": statistics.median(self.delay_points) if self.delay_points else None,
            "days": rounded(self.days), "false_per_day": rounded(self.false_per_day),
        }


def score_alarms(timestamps: Sequence[datetime], labels: Sequence[int] | np.ndarray,
                 alarms: Sequence[bool] | np.ndarray) -> SeriesScore:
    """Event-wise scoring of alarm flags against 0/1 labels (see the package docstring)."""
    windows = runs([bool(v) for v in labels])
    alarm_flags = [bool(a) for a in alarms]
    score = SeriesScore(windows=len(windows))
    inside = [False] * len(alarm_flags)
    for lo, hi in windows:
        for i in range(lo, hi + 1):
            inside[i] = True
        hits = [i for i in range(lo, hi + 1) if alarm_flags[i]]
        if hits:
            score.detected += 1
            score.delays.append((timestamps[hits[0]] - timestamps[lo]).total_seconds())
            score.delay_points.append(hits[0] - lo)
    for lo, hi in runs(alarm_flags):
        if not any(inside[lo : hi + 1]):
            score.false_alarms += 1
    if len(timestamps) > 1:
        score.days = (timestamps[-1] - timestamps[0]).total_seconds() / 86400
    return score


@dataclass
class CsvResult:
    """A labelled series, a detector's scores of it and how its alarms fared."""

    series: LabelledCsv
    scores: np.ndarray
    threshold: float
    score: SeriesScore
    seconds: float

    @property
    def alarms(self) -> np.ndarray:
        """Points scoring at least the threshold."""
        return self.scores >= self.threshold


def default_threshold() -> float:
    """The score at which the pipeline's series detector raises a signal."""
    from riskwatch.config.detector_params import SeriesAnomalyParams

    return SeriesAnomalyParams().threshold


def run_csv(path: Path | str, detector: str | None = None, threshold: float | None = None,
            params: dict[str, Any] | None = None) -> CsvResult:
    """Score one labelled CSV with a fresh series detector."""
    from riskwatch.detectors.series.registry import DEFAULT_SERIES_DETECTOR, make_series_detector

    series = read_labelled_csv(path)
    model = make_series_detector(detector or DEFAULT_SERIES_DETECTOR, **(params or {}))
    threshold = default_threshold() if threshold is None else threshold
    started = time.perf_counter()
    scores = np.asarray(model.score_series(series.timestamps, series.values), dtype=float)
    seconds = time.perf_counter() - started
    return CsvResult(series, scores, threshold, score_alarms(series.timestamps, series.labels, scores >= threshold), seconds)

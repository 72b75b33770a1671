"""`riskwatch backtest`: score detectors and the whole pipeline against labelled data.

Two modes.

**Scenarios** (`--scenario NAME|PATH`, or `--recorded DIR` with `hotline.jsonl`, `police.jsonl`,
`sensor.jsonl` and `ground_truth.json`): each scenario is simulated to files, the offline
pipeline (the stages `riskwatch.streams.replay` chains: normalize → event-time gate → detectors
→ grading) runs over them with the chosen config, and what it raised is matched to the
ground-truth incidents:

- a **warning** matches an incident when it is placed in the incident's street (or its district,
  for a district-level warning), its category is in the same category group (`grading.yaml`)
  as one of the incident's expected categories, and it was published within [incident start,
  incident end + tolerance] — as an Alert, or as an Update when a warning already open in that
  street and group is raised by the incident's evidence (its delay is then that Update's time);
- a **signal** matches the same way by its region, category and event time, and counts for the
  configured detector that raised it (`count_trend/cold_start` for `count_trend`); a `health` signal
  matches only sensor-health incidents (`expected_level: null`) and any other signal only
  incidents that should reach the command center. A warning that matches only a sensor-health
  incident is a false warning: such faults belong to maintenance.

Per scenario and overall, for the pipeline's warnings, for each detector's signals and for all
`health` signals together: detection rate, median and 90th-percentile delay (first match −
incident start), and false warnings (or signals) per district per day — those matching no
incident, over every district of the city for the scenario's length — plus events/s of the run.

**CSV** (`--csv FILE`, columns `timestamp,value,label` with label 0/1 per row): the series goes
through a registered series detector and points scoring at least `--threshold` are alarms.
Scoring is event-wise: each maximal run of label 1 is an anomaly window, detected when any alarm
falls inside it; each maximal run of consecutive alarms lying wholly outside every window is one
false alarm. Precision = detected / (detected + false alarms), recall = detected / windows;
delay = first alarm in a window − the window's start; false alarms per day over the series' span.

The pipeline and simulator are imported only when a scenario is run, so this module does not tie
`detectors` to `streams` at import time.

Both modes write `--out DIR/report.html` (self-contained, plots as embedded PNGs) when `--out`
is given, and `--json` prints the metrics as JSON instead of tables.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import numpy as np
import typer

from riskwatch.config.loader import CityConfig, ConfigError, load_city_config
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Event, Level, Signal, SignalKind, Source, Warning

if TYPE_CHECKING:
    from riskwatch.detectors.base import Detector

DEFAULT_TOLERANCE = timedelta(hours=1)
PIPELINE = "pipeline"
HEALTH = "health"
SOURCE_FILES = {Source.hotline: "hotline.jsonl", Source.police: "police.jsonl", Source.sensor: "sensor.jsonl"}
GROUND_TRUTH_FILE = "ground_truth.json"


# ============================================================================= ground truth


@dataclass(frozen=True)
class TruthIncident:
    """One labelled incident as matching needs it."""

    id: str
    kind: str
    street: str
    district: str
    start: datetime
    end: datetime
    groups: frozenset[str]
    categories: tuple[str, ...] = ()
    expected_level: str | None = None
    devices: tuple[str, ...] = ()

    @property
    def health(self) -> bool:
        """A sensor fault: it should raise a `health` signal for maintenance, not a warning."""
        return self.expected_level is None

    @classmethod
    def from_doc(cls, doc: dict[str, Any], group_of: Callable[[str], str]) -> TruthIncident:
        categories = tuple(doc["expected_categories"])
        return cls(
            id=doc["id"], kind=doc["kind"], street=doc["street"], district=doc["district_code"],
            start=_aware(datetime.fromisoformat(doc["start"])), end=_aware(datetime.fromisoformat(doc["end"])),
            groups=frozenset(group_of(c) for c in categories), categories=categories,
            expected_level=doc.get("expected_level"), devices=tuple(doc.get("devices") or ()),
        )


def group_mapper(config: CityConfig) -> Callable[[str], str]:
    """Category → its category group (`grading.yaml`), or the category itself."""
    groups = {c: g for g, cats in config.grading.category_groups.items() for c in cats}
    return lambda category: groups.get(category, category)


def load_truth(path: Path, group_of: Callable[[str], str]) -> tuple[dict[str, Any], list[TruthIncident]]:
    """The ground-truth document and its incidents."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return doc, [TruthIncident.from_doc(d, group_of) for d in doc.get("incidents", [])]


# ============================================================================= detections


@dataclass(frozen=True)
class Detection:
    """A warning or a signal reduced to what matching needs."""

    ref: str  # warning id or signal id
    by: str  # "pipeline" or the detector's name
    region: str  # street code, or a district code for district-level findings
    district: str
    group: str
    at: datetime  # a warning's first publication (Alert); a signal's event time
    health: bool = False
    level: str | None = None  # a warning's highest level
    published: tuple[datetime, ...] = ()  # every publication of a warning (Alert and Updates)

    @property
    def times(self) -> tuple[datetime, ...]:
        return self.published or (self.at,)


def _street_of(regions: RegionIndex | None, code: str) -> str:
    if regions is not None and code in regions:
        return regions.at_level(code, "street")
    return code


def warning_detections(warnings: Iterable[Warning], group_of: Callable[[str], str]) -> list[Detection]:
    """One detection per warning id: placed where the warning is, first seen at its Alert, with
    every publication time (an Update that raises it during an incident also counts) and the
    highest level it reached."""
    versions: dict[str, list[Warning]] = defaultdict(list)
    for w in warnings:
        versions[w.warning_id].append(w)
    order = [lv.value for lv in sorted(Level, key=lambda lv: lv.rank)]
    out = []
    for wid, ws in versions.items():
        ws.sort(key=lambda w: (w.version, w.updated_at))
        times = tuple(sorted(_aware(w.updated_at) for w in ws))
        w = ws[0]
        out.append(Detection(wid, PIPELINE, w.region_code, w.district_code, group_of(w.category), times[0], False,
                             max((x.level.value for x in ws), key=order.index), times))
    return out


def detector_of(signal_detector: str) -> str:
    """The configured detector behind a signal (`count_trend/cold_start` → `count_trend`)."""
    return signal_detector.split("/", 1)[0]


def signal_detections(signals: Iterable[Signal], group_of: Callable[[str], str],
                      regions: RegionIndex | None) -> list[Detection]:
    """One detection per signal, credited to its configured detector (variants such as
    `/cold_start` included), placed in its street."""
    return [
        Detection(s.signal_id, detector_of(s.detector), _street_of(regions, s.region_code), s.district_code,
                  group_of(s.category), _aware(s.at), s.kind is SignalKind.health)
        for s in signals
    ]


def match_time(detection: Detection, incident: TruthIncident, tolerance: timedelta = DEFAULT_TOLERANCE) -> datetime | None:
    """When the detection first matches the incident, or None: same place (street, or district for
    a district-level finding), same category group, same class (health or not), and seen (for a
    warning: published) within [start, end + tolerance]."""
    if detection.health != incident.health or detection.group not in incident.groups:
        return None
    place = incident.district if len(detection.region) <= 6 else incident.street
    if detection.region != place:
        return None
    return next((t for t in detection.times if incident.start <= t <= incident.end + tolerance), None)


def matches(detection: Detection, incident: TruthIncident, tolerance: timedelta = DEFAULT_TOLERANCE) -> bool:
    """Whether the detection matches the incident (see `match_time`)."""
    return match_time(detection, incident, tolerance) is not None


# ============================================================================= metrics


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), or None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


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
        return {
            "incidents": self.incidents, "detected": self.detected, "detection_rate": _round(self.detection_rate),
            "median_delay_s": _round(self.median_delay, 1), "p90_delay_s": _round(self.p90_delay, 1),
            "false": self.false, "total": self.total, "district_days": _round(self.district_days),
            "false_per_district_day": _round(self.false_per_district_day),
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


# ============================================================================= scenario runs


@dataclass
class Traces:
    """What the report plots: admitted events of the incidents' streets and devices."""

    hotline: dict[str, list[tuple[datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    police: dict[str, list[tuple[datetime, str]]] = field(default_factory=lambda: defaultdict(list))
    sensor: dict[str, list[tuple[datetime, float]]] = field(default_factory=lambda: defaultdict(list))


class _Recorder:
    """First in the detector list: sees every event the event-time gate admitted, accepts none."""

    name = "_backtest_recorder"

    def __init__(self, streets: set[str], devices: set[str], keep_events: bool) -> None:
        self.streets, self.devices, self.keep = streets, devices, keep_events
        self.traces = Traces()
        self.events: list[Event] = []

    def accepts(self, event: Event) -> bool:
        if self.keep:
            self.events.append(event)
        street = event.street_code or ""
        if event.source is Source.sensor:
            if event.device_id in self.devices and event.value is not None:
                self.traces.sensor[event.device_id].append((event.occurred_at, float(event.value)))
        elif street in self.streets:
            bucket = self.traces.hotline if event.source is Source.hotline else self.traces.police
            bucket[street].append((event.occurred_at, event.category))
        return False

    def observe(self, event: Event) -> list[Signal]:  # pragma: no cover - never accepted
        return []


class _SignalTap:
    """Wraps a configured detector and keeps a copy of every signal it raises."""

    def __init__(self, inner: Detector, sink: list[Signal]) -> None:
        self.inner, self.sink, self.name = inner, sink, inner.name

    def accepts(self, event: Event) -> bool:
        return self.inner.accepts(event)

    def observe(self, event: Event) -> list[Signal]:
        signals = self.inner.observe(event)
        self.sink.extend(signals)
        return signals


@dataclass
class ScenarioRun:
    """One scenario through the pipeline: what went in, what came out, how long it took."""

    name: str
    doc: dict[str, Any]
    incidents: list[TruthIncident]
    start: datetime
    end: datetime
    warnings: list[Warning]
    signals: list[Signal]
    detector_names: list[str]
    health_detectors: set[str]
    events: int
    seconds: float
    dead_letters: int
    traces: Traces
    admitted: list[Event] = field(default_factory=list)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def source_files(directory: Path) -> list[str]:
    """The raw JSON-lines files of a recorded directory, as `source:path` specs."""
    specs = []
    for source, name in SOURCE_FILES.items():
        path = directory / name
        if path.exists():
            specs.append(f"{source.value}:{path}")
    if not specs:
        raise ConfigError(f"{directory}: no {', '.join(SOURCE_FILES.values())} to replay")
    return specs


def _count_lines(specs: list[str]) -> int:
    total = 0
    for spec in specs:
        with open(spec.partition(":")[2], "rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def _progress(total: int, desc: str, enabled: bool | None = None) -> Any:
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, desc=desc, unit="ev", file=sys.stderr, disable=not show, leave=False, mininterval=0.5)


def run_recorded(directory: Path | str, config: CityConfig, *, keep_events: bool = False,
                 progress: bool | None = None, name: str | None = None) -> ScenarioRun:
    """Replay a directory of raw files through the pipeline and collect warnings and signals."""
    from riskwatch.streams.pipeline import Pipeline
    from riskwatch.streams.replay import interleave

    directory = Path(directory)
    truth_path = directory / GROUND_TRUTH_FILE
    if not truth_path.exists():
        raise ConfigError(f"{directory}: no {GROUND_TRUTH_FILE} (the labels to score against)")
    group_of = group_mapper(config)
    doc, incidents = load_truth(truth_path, group_of)
    specs = source_files(directory)
    pipeline = Pipeline(config)
    signals: list[Signal] = []
    recorder = _Recorder({i.street for i in incidents}, {d for i in incidents for d in i.devices}, keep_events)
    detectors = pipeline.detect.detectors
    health = {d.name for d in detectors if _is_health_detector(d)}
    names = [d.name for d in detectors]
    pipeline.detect.detectors = [recorder, *(_SignalTap(d, signals) for d in detectors)]
    warnings: list[Warning] = []
    dead = 0
    label = name or doc.get("scenario") or directory.name
    bar = _progress(_count_lines(specs), label, progress)
    started = time.perf_counter()
    try:
        for i, line in enumerate(interleave(specs), start=1):
            produced, letters = pipeline.process(line.source, line.raw)
            warnings.extend(produced)
            dead += len(letters)
            if i % 2000 == 0:
                bar.update(2000)
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    start = _aware(datetime.fromisoformat(doc["start"])) if doc.get("start") else min(i.start for i in incidents)
    end = _aware(datetime.fromisoformat(doc["end"])) if doc.get("end") else max(i.end for i in incidents)
    health |= {detector_of(s.detector) for s in signals if s.kind is SignalKind.health}
    return ScenarioRun(label, doc, incidents, start, end, warnings, signals, names, health,
                       pipeline.stats.events_in, seconds, dead, recorder.traces, recorder.events)


def _is_health_detector(detector: Any) -> bool:
    inner = getattr(detector, "inner", detector)
    return "health" in (getattr(inner, "name", "") or "")


def run_scenario(scenario: str | Path, config: CityConfig, out_dir: Path | None = None, *,
                 keep_events: bool = False, progress: bool | None = None) -> ScenarioRun:
    """Simulate a scenario (built-in name or YAML path) to files, then replay them."""
    from riskwatch.simulator.scenario import load_scenario
    from riskwatch.simulator.sinks import write_files

    chosen = load_scenario(scenario, config)
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="riskwatch-backtest-") as tmp:
            write_files(chosen, tmp, city=config)
            return run_recorded(tmp, config, keep_events=keep_events, progress=progress, name=chosen.name)
    target = Path(out_dir) / chosen.name
    write_files(chosen, target, city=config)
    return run_recorded(target, config, keep_events=keep_events, progress=progress, name=chosen.name)


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
        run = self.run
        incidents = []
        for inc in run.incidents:
            warn = self.pipeline.first.get(inc.id)
            incidents.append({
                "id": inc.id, "kind": inc.kind, "street": inc.street, "start": inc.start.isoformat(),
                "end": inc.end.isoformat(), "expected_level": inc.expected_level, "health": inc.health,
                "pipeline": None if warn is None else {
                    "warning_id": warn.ref, "level": warn.level, "delay_s": (warn.at - inc.start).total_seconds()},
                "detectors": {name: _delay(ev, inc) for name, ev in self.detectors.items()},
                "health_signal_delay_s": _delay(self.health, inc),
            })
        return {
            "scenario": run.name, "start": run.start.isoformat(), "end": run.end.isoformat(), "days": _round(run.days),
            "events": run.events, "seconds": _round(run.seconds, 3), "events_per_s": _round(run.events_per_s, 1),
            "dead_letters": run.dead_letters, "warnings": len({w.warning_id for w in run.warnings}),
            "signals": dict(sorted(Counter(s.detector for s in run.signals).items())),
            PIPELINE: self.pipeline.score.as_dict(),
            "detectors": {name: ev.score.as_dict() for name, ev in self.detectors.items()},
            HEALTH: self.health.score.as_dict(),
            "incidents": incidents,
        }


def _delay(evaluation: Evaluation, inc: TruthIncident) -> float | None:
    det = evaluation.first.get(inc.id)
    return None if det is None else (det.at - inc.start).total_seconds()


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
    return {"events": events, "seconds": _round(seconds, 3), "events_per_s": _round(events / seconds if seconds else 0.0, 1),
            PIPELINE: pipeline, "detectors": detectors, HEALTH: health}


# ============================================================================= CSV mode


@dataclass
class LabelledCsv:
    name: str
    timestamps: list[datetime]
    values: np.ndarray
    labels: np.ndarray


def read_labelled_csv(path: Path | str) -> LabelledCsv:
    """`timestamp,value,label` rows (header required; label 0/1); ISO or epoch-seconds timestamps."""
    path = Path(path)
    ts: list[datetime] = []
    values: list[float] = []
    labels: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"timestamp", "value", "label"} - set(reader.fieldnames or ())
        if missing:
            raise ConfigError(f"{path}: missing column(s) {sorted(missing)}; expected timestamp,value,label")
        for row_no, row in enumerate(reader, start=2):
            try:
                ts.append(_parse_time(row["timestamp"]))
                values.append(float(row["value"]))
                labels.append(1 if float(row["label"]) > 0 else 0)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{path}:{row_no}: cannot read row ({exc})") from exc
    return LabelledCsv(path.stem, ts, np.asarray(values, dtype=float), np.asarray(labels, dtype=int))


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
        return {
            "windows": self.windows, "detected": self.detected, "false_alarms": self.false_alarms,
            "precision": _round(self.precision), "recall": _round(self.recall), "f1": _round(self.f1),
            "median_delay_s": _round(statistics.median(self.delays), 1) if self.delays else None,
            "median_delay_points": statistics.median(self.delay_points) if self.delay_points else None,
            "days": _round(self.days), "false_per_day": _round(self.false_per_day),
        }


def score_alarms(timestamps: Sequence[datetime], labels: Sequence[int] | np.ndarray,
                 alarms: Sequence[bool] | np.ndarray) -> SeriesScore:
    """Event-wise scoring of alarm flags against 0/1 labels (see the module docstring)."""
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
    series: LabelledCsv
    scores: np.ndarray
    threshold: float
    score: SeriesScore
    seconds: float

    @property
    def alarms(self) -> np.ndarray:
        return self.scores >= self.threshold


def default_threshold() -> float:
    """The score at which the pipeline's series detector raises a signal."""
    from riskwatch.detectors.series_anomaly import SeriesAnomalyParams

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


# ============================================================================= report


def _figure_png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_csv(result: CsvResult) -> str:
    """Series with labelled windows and alarms above; scores and the threshold below."""
    plt = _pyplot()
    ts, s = result.series.timestamps, result.series
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 4.8), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.plot(ts, s.values, lw=0.8, color="#333", label="value")
    for k, (lo, hi) in enumerate(runs(s.labels.astype(bool))):
        for ax in (top, bottom):
            label = "labelled anomaly" if k == 0 and ax is top else None
            ax.axvspan(ts[lo], ts[hi], color="#f4a261", alpha=0.3, lw=0, label=label)
    alarm_idx = np.flatnonzero(result.alarms)
    if alarm_idx.size:
        top.scatter([ts[i] for i in alarm_idx], s.values[alarm_idx], color="#d62828", s=14, zorder=3, label="alarm")
    top.set_title(f"{s.name}: {len(ts)} points, threshold {result.threshold:g}")
    top.legend(loc="upper left", fontsize=8)
    bottom.plot(ts, result.scores, lw=0.8, color="#1d3557", label="score")
    bottom.axhline(result.threshold, color="#d62828", ls="--", lw=1, label="threshold")
    bottom.set_ylim(-0.02, 1.02)
    bottom.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return _figure_png(fig)


def plot_incident(run: ScenarioRun, report: ScenarioReport, inc: TruthIncident,
                  bucket: timedelta = timedelta(minutes=30)) -> str:
    """The street's report counts, the incident devices' readings, signals and warnings around an incident."""
    plt = _pyplot()
    lo = max(run.start, inc.start - timedelta(hours=6))
    hi = min(run.end, inc.end + timedelta(hours=3))
    panels = 2 if inc.devices else 1
    fig, axes = plt.subplots(panels, 1, figsize=(12, 2.6 * panels + 0.6), sharex=True, squeeze=False)
    axes = [a[0] for a in axes]
    # --- counts
    ax = axes[0]
    n = max(1, math.ceil((hi - lo) / bucket))
    edges = [lo + bucket * k for k in range(n + 1)]
    group_of = report.group_of

    def counts(items: list[tuple[datetime, str]], mine: bool | None) -> list[int]:
        out = [0] * n
        for at, category in items:
            if lo <= at < hi and (mine is None or (group_of(category) in inc.groups) == mine):
                out[min(n - 1, int((at - lo) / bucket))] += 1
        return out

    hot = run.traces.hotline.get(inc.street, [])
    pol = run.traces.police.get(inc.street, [])
    width = bucket / timedelta(days=1) * 0.9
    mine, other = counts(hot, True), counts(hot, False)
    ax.bar(edges[:-1], other, width=width, align="edge", color="#bbb", label="12345, other categories")
    ax.bar(edges[:-1], mine, width=width, align="edge", bottom=other, color="#457b9d",
           label=f"12345, {'/'.join(inc.categories)}")
    ax.step(edges[:-1], counts(pol, None), where="post", color="#e76f51", lw=1.2, label="110, all")
    ax.set_ylabel(f"reports / {int(bucket.total_seconds() // 60)} min")
    ax.set_title(f"{inc.id} ({inc.kind}) in {inc.street}, expected level {inc.expected_level or 'none (health)'}")
    # --- sensors
    signals = [s for s in run.signals if lo <= s.at <= hi and _street_of(report.regions, s.region_code) == inc.street]
    colours = plt.get_cmap("tab10")
    names = sorted({s.detector for s in signals})
    colour = {name: colours(i % 10) for i, name in enumerate(names)}
    if inc.devices:
        ax2 = axes[1]
        for dev in inc.devices:
            pts = [(t, v) for t, v in run.traces.sensor.get(dev, []) if lo <= t <= hi]
            if pts:
                ax2.plot([p[0] for p in pts], [p[1] for p in pts], lw=0.9, label=dev)
        readings = {dev: dict(run.traces.sensor.get(dev, [])) for dev in inc.devices}
        for sig in signals:
            for dev in inc.devices:
                value = readings[dev].get(sig.at)
                if value is not None and any(e.startswith(f"sensor:{dev}:") for e in sig.evidence):
                    ax2.scatter([sig.at], [value], s=24, marker="o", facecolors="none",
                                edgecolors=[colour[sig.detector]], zorder=3)
                    break
        ax2.set_ylabel("reading")
    # --- signal ticks and warnings on every panel
    for name in names:
        times = [s.at for s in signals if s.detector == name]
        axes[0].scatter(times, [0] * len(times), marker="|", s=120, color=colour[name], label=f"signal: {name}", zorder=4)
    warned = [d for d in warning_detections(run.warnings, group_of)
              if d.region in (inc.street, inc.district) and lo <= d.at <= hi]
    false_refs = {d.ref for d in report.pipeline.false}
    for det in warned:
        ok = det.ref not in false_refs
        for ax in axes:
            ax.axvline(det.at, color="#2a9d8f" if ok else "#9d0208", ls="--", lw=1.2,
                       label=(f"warning {det.level} ({det.group})" if ax is axes[0] else None))
    for ax in axes:
        ax.axvspan(inc.start, inc.end, color="#ffd166", alpha=0.3, lw=0, zorder=0)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))  # one entry per label
        ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.autofmt_xdate()
    return _figure_png(fig)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}{unit}"
    return f"{value}{unit}"


def _fmt_delay(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def score_rows(pipeline: Score, detectors: dict[str, Score], health: Score,
               speeds: dict[str, float] | None = None) -> list[list[str]]:
    """Table rows: pipeline, each detector, health signals."""
    rows = []
    for name, sc in [(PIPELINE + " (warnings)", pipeline), *sorted(detectors.items()), ("health signals (all)", health)]:
        row = [name, f"{sc.detected}/{sc.incidents}", _fmt(sc.detection_rate), _fmt_delay(sc.median_delay),
               _fmt_delay(sc.p90_delay), str(sc.false), _fmt(sc.false_per_district_day)]
        if speeds is not None:
            speed = speeds.get(name.split(" ")[0])
            row.append(f"{speed:,.0f}" if speed else "–")
        rows.append(row)
    return rows


SCORE_HEADERS = ["", "detected", "rate", "median delay", "p90 delay", "false", "false / district / day"]
INCIDENT_HEADERS = ["incident", "kind", "street", "start", "expected", "warning", "signals (first, after start)"]
FALSE_HEADERS = ["warning", "region", "group", "first published", "level"]
CSV_HEADERS = ["file", "points", "windows", "detected", "false alarms", "precision", "recall", "F1", "median delay",
               "false / day"]
MAX_FALSE_ROWS = 100

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f0f0f0}img{max-width:100%;display:block;margin:.5em 0 1.5em}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}.note{color:#666;font-size:13px}"""


def _page(title: str, body: list[str]) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>\n")


def _img(png: str, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{png}'>"


def scenario_report_html(reports: Sequence[ScenarioReport], config: CityConfig, tolerance: timedelta) -> str:
    total = overall(reports)
    body = [
        f"<p class='note'>Config {html.escape(str(config.directory.name))}; "
        f"tolerance {_fmt_delay(tolerance.total_seconds())} "
        f"after an incident's end; {total['events']:,} events in {total['seconds']:.1f} s "
        f"({total['events_per_s']:,.0f} events/s).</p>",
        "<h2>Overall</h2>", _table(SCORE_HEADERS, score_rows(total[PIPELINE], total["detectors"], total[HEALTH])),
    ]
    for rep in reports:
        run = rep.run
        body.append(f"<h2>{html.escape(run.name)}</h2>"
                    f"<p class='note'>{run.start:%Y-%m-%d %H:%M} → {run.end:%Y-%m-%d %H:%M} "
                    f"({run.days:.2f} days); {run.events:,} events, {run.events_per_s:,.0f} events/s; "
                    f"{run.dead_letters} dead letters; {len({w.warning_id for w in run.warnings})} warnings.</p>")
        body.append(_table(SCORE_HEADERS, score_rows(rep.pipeline.score, {n: e.score for n, e in rep.detectors.items()},
                                                     rep.health.score)))
        rows = []
        for inc in run.incidents:
            warn = rep.pipeline.first.get(inc.id)
            found = [f"{n} {_fmt_delay(_delay(e, inc))}" for n, e in sorted(rep.detectors.items()) if inc.id in e.first]
            rows.append([inc.id, inc.kind, inc.street, f"{inc.start:%m-%d %H:%M}", inc.expected_level or "health",
                         "–" if warn is None else f"{warn.level} after {_fmt_delay(_delay(rep.pipeline, inc))}",
                         "; ".join(found) or "–"])
        body.append(_table(INCIDENT_HEADERS, rows))
        if rep.pipeline.false:
            false = sorted(rep.pipeline.false, key=lambda d: d.at)
            rows = [[d.ref[:16], d.region, d.group, f"{d.at:%m-%d %H:%M}", d.level] for d in false[:MAX_FALSE_ROWS]]
            more = f" (first {MAX_FALSE_ROWS} of {len(false)})" if len(false) > MAX_FALSE_ROWS else ""
            body.append(f"<p class='note'>False warnings{more}:</p>" + _table(FALSE_HEADERS, rows))
        for inc in run.incidents:
            body.append(_img(plot_incident(run, rep, inc), inc.id))
    return _page("riskwatch backtest: scenarios", body)


def csv_report_html(results: Sequence[CsvResult], detector: str) -> str:
    total = sum((r.score for r in results), SeriesScore())
    headers = CSV_HEADERS
    rows = [_csv_row(r.series.name, len(r.series.values), r.score) for r in results]
    rows.append(_csv_row("all", sum(len(r.series.values) for r in results), total))
    body = [f"<p class='note'>Detector {html.escape(detector)}; threshold {results[0].threshold:g}.</p>" if results else "",
            _table(headers, rows)]
    for r in results:
        body.append(f"<h2>{html.escape(r.series.name)}</h2>")
        body.append(_img(plot_csv(r), r.series.name))
    return _page("riskwatch backtest: labelled series", body)


def _csv_row(name: str, points: int, sc: SeriesScore) -> list[str]:
    d = sc.as_dict()
    return [name, str(points), str(sc.windows), str(sc.detected), str(sc.false_alarms), _fmt(d["precision"]),
            _fmt(d["recall"]), _fmt(d["f1"]), _fmt_delay(statistics.median(sc.delays) if sc.delays else None),
            _fmt(d["false_per_day"])]


def write_report(out_dir: Path, page: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


# ============================================================================= text output


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the first left-aligned, the rest right-aligned."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]
    lines = []
    for row in [list(headers), *rows]:
        cells = [str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _json_ready(value: Any) -> Any:
    if isinstance(value, (Score, SeriesScore)):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


# ============================================================================= command


Paths = Optional[list[Path]]  # noqa: UP007 - typer reads the annotation at runtime


def backtest_command(
    scenario: Annotated[Optional[list[str]], typer.Option(
        "--scenario", "-s", help="Built-in scenario name or scenario YAML; repeatable")] = None,
    recorded: Annotated[Paths, typer.Option(
        "--recorded", exists=True, file_okay=False,
        help="Directory with hotline/police/sensor .jsonl and ground_truth.json; repeatable")] = None,
    csv_files: Annotated[Paths, typer.Option(
        "--csv", exists=True, dir_okay=False, help="Labelled CSV with columns timestamp,value,label; repeatable")] = None,
    detector: Annotated[Optional[str], typer.Option(
        "--detector", "-d", help="Series detector for --csv (default: the registry's default)")] = None,
    threshold: Annotated[Optional[float], typer.Option(
        "--threshold", "-t", min=0.0, max=1.0, help="Alarm score for --csv (default: series_anomaly's threshold)")] = None,
    config_dir: Annotated[Optional[Path], typer.Option(
        "--config-dir", exists=True, file_okay=False,
        help="Config directory (default: RISKWATCH_CONFIG_DIR or the shipped sample city)")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Write the simulated files and report.html into this directory")] = None,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0.0, help="Minutes after an incident's end that a warning or signal still matches it")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON")] = False,
    progress: Annotated[Optional[bool], typer.Option(
        "--progress/--no-progress", help="Progress bar on stderr (default: only when stderr is a terminal)")] = None,
) -> None:
    """Back-test on labelled data: scenarios (simulated or recorded) through the whole pipeline,
    or labelled CSVs through a series detector."""
    if csv_files and (scenario or recorded):
        raise typer.BadParameter("give either --csv files or --scenario/--recorded, not both")
    if not (csv_files or scenario or recorded):
        raise typer.BadParameter("give --scenario NAME|PATH, --recorded DIR or --csv FILE")
    try:
        if csv_files:
            _csv_mode(csv_files, detector, threshold, out, as_json)
        else:
            _scenario_mode(scenario or [], recorded or [], config_dir, out, timedelta(minutes=tolerance), as_json,
                           progress)
    except (ConfigError, KeyError) as exc:
        typer.echo(str(exc).strip("'\""), err=True)
        raise typer.Exit(2) from exc


def _config(config_dir: Path | None) -> CityConfig:
    if config_dir is None:
        from riskwatch.config.settings import Settings

        config_dir = Settings().config_dir
    return load_city_config(config_dir)


def _scenario_mode(scenarios: list[str], recorded: list[Path], config_dir: Path | None, out: Path | None,
                   tolerance: timedelta, as_json: bool, progress: bool | None) -> None:
    config = _config(config_dir)
    reports = []
    for name in scenarios:
        run = run_scenario(name, config, out, progress=progress)
        reports.append(score_run(run, config, tolerance))
    for directory in recorded:
        reports.append(score_run(run_recorded(directory, config, progress=progress), config, tolerance))
    total = overall(reports)
    if as_json:
        typer.echo(json.dumps({"tolerance_s": tolerance.total_seconds(), "scenarios": [r.as_dict() for r in reports],
                               "overall": _json_ready(total)}, ensure_ascii=False, indent=2))
    else:
        for rep in reports:
            run = rep.run
            typer.echo(f"{run.name}: {run.events:,} events in {run.seconds:.1f} s ({run.events_per_s:,.0f}/s), "
                       f"{len(run.incidents)} incidents, {run.days:.2f} days")
            scores = {n: e.score for n, e in rep.detectors.items()}
            typer.echo(format_table(SCORE_HEADERS, score_rows(rep.pipeline.score, scores, rep.health.score)))
            typer.echo("")
        if len(reports) > 1:
            typer.echo(f"overall: {total['events']:,} events, {total['events_per_s']:,.0f}/s")
            typer.echo(format_table(SCORE_HEADERS, score_rows(total[PIPELINE], total["detectors"], total[HEALTH])))
    if out is not None:
        path = write_report(out, scenario_report_html(reports, config, tolerance))
        typer.echo(f"report: {path}", err=as_json)


def _csv_mode(files: list[Path], detector: str | None, threshold: float | None, out: Path | None, as_json: bool) -> None:
    from riskwatch.detectors.series.registry import DEFAULT_SERIES_DETECTOR

    name = detector or DEFAULT_SERIES_DETECTOR
    results = [run_csv(path, name, threshold) for path in files]
    total = sum((r.score for r in results), SeriesScore())
    if as_json:
        typer.echo(json.dumps({
            "detector": name, "threshold": results[0].threshold,
            "files": [{"file": str(r.series.name), "points": len(r.series.values), "seconds": _round(r.seconds, 3),
                       **r.score.as_dict()} for r in results],
            "overall": total.as_dict(),
        }, ensure_ascii=False, indent=2))
    else:
        headers = CSV_HEADERS
        rows = [_csv_row(r.series.name, len(r.series.values), r.score) for r in results]
        rows.append(_csv_row("all", sum(len(r.series.values) for r in results), total))
        typer.echo(f"detector {name}, threshold {results[0].threshold:g}")
        typer.echo(format_table(headers, rows))
    if out is not None:
        path = write_report(out, csv_report_html(results, name))
        typer.echo(f"report: {path}", err=as_json)


def register(app: typer.Typer) -> None:
    """Add `backtest` to the `riskwatch` command."""
    app.command("backtest")(backtest_command)


# ============================================================================= helpers


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _parse_time(text: str) -> datetime:
    text = text.strip()
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return datetime.fromtimestamp(float(text), UTC)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


__all__ = [
    "DEFAULT_TOLERANCE", "Detection", "Evaluation", "Score", "ScenarioReport", "ScenarioRun", "SeriesScore",
    "TruthIncident", "evaluate", "matches", "overall", "read_labelled_csv", "register", "run_csv", "run_recorded",
    "run_scenario", "score_alarms", "score_run",
]

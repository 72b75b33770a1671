"""A scenario through the offline pipeline: simulated (or recorded) raw files in, warnings and signals out.

The pipeline and simulator are imported only when a scenario is run, so importing this module
does not tie `detectors` to `streams`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskwatch.config.loader import CityConfig, ConfigError
from riskwatch.contracts import Event, Signal, SignalKind, Source, Warning
from riskwatch.tools.backtest.truth import GROUND_TRUTH_FILE, TruthIncident, aware, detector_of, group_mapper, load_truth

if TYPE_CHECKING:
    from riskwatch.detectors.base import Detector

__all__ = ["SOURCE_FILES", "ScenarioRun", "Traces", "run_recorded", "run_scenario", "source_files"]

SOURCE_FILES = {Source.hotline: "hotline.jsonl", Source.police: "police.jsonl", Source.sensor: "sensor.jsonl"}


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
        """The scenario's length in days (false findings are counted per district per day)."""
        return (self.end - self.start).total_seconds() / 86400

    @property
    def events_per_s(self) -> float:
        """Raw records through the whole pipeline per second of the run."""
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


def _is_health_detector(detector: Any) -> bool:
    inner = getattr(detector, "inner", detector)
    return "health" in (getattr(inner, "name", "") or "")


def run_recorded(directory: Path | str, config: CityConfig, *, keep_events: bool = False,
                 progress: bool | None = None, name: str | None = None,
                 history: Iterable[tuple[Source, bytes]] = ()) -> ScenarioRun:
    """Replay a directory of raw files through the pipeline and collect warnings and signals.

    `history` (raw records in arrival order, e.g. `simulator.history.history_messages`) is fed
    through normalization and the detectors first, without grading: the detectors start the
    replay warm, as a worker restored from its state would, and nothing of it is counted.
    """
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
    for source, raw in history:
        event = pipeline.normalize(source, raw)
        if isinstance(event, Event):
            pipeline.detect(event)
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
    start = aware(datetime.fromisoformat(doc["start"])) if doc.get("start") else min(i.start for i in incidents)
    end = aware(datetime.fromisoformat(doc["end"])) if doc.get("end") else max(i.end for i in incidents)
    health |= {detector_of(s.detector) for s in signals if s.kind is SignalKind.health}
    return ScenarioRun(label, doc, incidents, start, end, warnings, signals, names, health,
                       pipeline.stats.events_in, seconds, dead, recorder.traces, recorder.events)


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

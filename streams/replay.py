"""Offline replay: the same stages as the Faust agents over recorded raw files, no broker.

Files are JSON lines of raw records, one source per file (named after the source, e.g.
`hotline.jsonl`, or given with `source:path`). Sources are interleaved by each record's own
time, as they would have arrived; an unreadable line keeps the time of the line before it so
it is still replayed (and dead-lettered) in place.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from riskwatch.config.loader import CityConfig
from riskwatch.contracts import DeadLetter, Source, Warning
from riskwatch.streams.pipeline import Pipeline

TIME_FIELD = {Source.hotline: "received_at", Source.police: "reported_at", Source.sensor: "ts"}


@dataclass(frozen=True)
class RawLine:
    """One recorded raw record and where it came from."""

    sort_time: str
    source: Source
    line_no: int
    raw: bytes


def source_for_path(spec: str) -> tuple[Source, Path]:
    """`hotline:path`, or a path whose file name starts with a source name."""
    head, sep, tail = spec.partition(":")
    if sep and head in Source.__members__:
        return Source(head), Path(tail)
    path = Path(spec)
    for source in Source:
        if path.name.startswith(source.value):
            return source, path
    raise ValueError(f"{spec}: cannot tell the source; name the file hotline*/police*/sensor* or write SOURCE:PATH")


def read_lines(source: Source, path: Path) -> Iterator[RawLine]:
    """Every non-empty line of a file with the time to interleave it by."""
    last_time = ""
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            try:
                value = json.loads(raw).get(TIME_FIELD[source])
                if isinstance(value, str):
                    last_time = value
            except (ValueError, AttributeError):
                pass
            yield RawLine(last_time, source, line_no, raw)


def interleave(specs: Iterable[str]) -> Iterator[RawLine]:
    """All files merged by record time (each file is taken to be in arrival order already)."""
    streams = [read_lines(*source_for_path(spec)) for spec in specs]
    return heapq.merge(*streams, key=lambda line: _instant(line.sort_time))


def _instant(text: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


@dataclass
class ReplayResult:
    warnings: list[Warning]
    dead_letters: list[DeadLetter]
    pipeline: Pipeline

    def final_warnings(self) -> dict[str, Warning]:
        """The latest version of each warning, by id."""
        latest: dict[str, Warning] = {}
        for warning in self.warnings:
            if warning.warning_id not in latest or warning.version > latest[warning.warning_id].version:
                latest[warning.warning_id] = warning
        return latest


def replay(config: CityConfig, specs: Iterable[str]) -> ReplayResult:
    """Run the whole pipeline over the files and collect every warning message and dead letter."""
    pipeline = Pipeline(config)
    warnings: list[Warning] = []
    dead: list[DeadLetter] = []
    for line in interleave(specs):
        produced, letters = pipeline.process(line.source, line.raw)
        warnings.extend(produced)
        dead.extend(letters)
    return ReplayResult(warnings, dead, pipeline)

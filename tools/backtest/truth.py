"""What the back-test scores against, and when a finding matches it.

Ground-truth incidents (a scenario's `ground_truth.json`) and labelled series (a CSV with a 0/1
`label` column) are read here; the pipeline's warnings and the detectors' signals are reduced to
`Detection`s, and `match_time` decides whether and when a detection matches an incident.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from riskwatch.config.loader import CityConfig, ConfigError
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import Level, Signal, SignalKind, Warning

__all__ = [
    "DEFAULT_TOLERANCE", "GROUND_TRUTH_FILE", "HEALTH", "PIPELINE", "Detection", "LabelledCsv", "TruthIncident",
    "aware", "detector_of", "group_mapper", "load_truth", "match_time", "matches", "read_labelled_csv",
    "signal_detections", "street_of", "warning_detections",
]

DEFAULT_TOLERANCE = timedelta(hours=1)
#: Scores are kept per "who found it": the pipeline's warnings, each detector, all health signals.
PIPELINE = "pipeline"
HEALTH = "health"
GROUND_TRUTH_FILE = "ground_truth.json"


def aware(at: datetime) -> datetime:
    """`at` with UTC attached when it has no time zone."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


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
        """One incident of a `ground_truth.json` document."""
        categories = tuple(doc["expected_categories"])
        return cls(
            id=doc["id"], kind=doc["kind"], street=doc["street"], district=doc["district_code"],
            start=aware(datetime.fromisoformat(doc["start"])), end=aware(datetime.fromisoformat(doc["end"])),
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


# ============================================================================= labelled series


@dataclass
class LabelledCsv:
    """A series with a 0/1 anomaly label per point."""

    name: str
    timestamps: list[datetime]
    values: np.ndarray
    labels: np.ndarray


def _parse_time(text: str) -> datetime:
    text = text.strip()
    try:
        return aware(datetime.fromisoformat(text))
    except ValueError:
        return datetime.fromtimestamp(float(text), UTC)


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
        """Every moment the detection was seen: a warning's publications, else its one time."""
        return self.published or (self.at,)


def street_of(regions: RegionIndex | None, code: str) -> str:
    """The street a region code lies in (grids are placed in their street), else the code itself."""
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
        times = tuple(sorted(aware(w.updated_at) for w in ws))
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
        Detection(s.signal_id, detector_of(s.detector), street_of(regions, s.region_code), s.district_code,
                  group_of(s.category), aware(s.at), s.kind is SignalKind.health)
        for s in signals
    ]


# ============================================================================= matching


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

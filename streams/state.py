"""Snapshots of detector, event-time gate and grader state, so a restarted worker resumes warm.

Layout under the worker's data directory (`Settings.data_dir`)::

    state/detect/<detector name>.pkl   one file per configured detector
    state/detect/_gate.pkl             the event-time gate (watermarks, recent event ids)
    state/grader.pkl                   the grader's open incidents (if the Grader has get_state)

Each file is a pickle of `{"meta": SnapshotMeta, "state": ...}`, written atomically (a temporary
file in the same directory, fsync, rename), so a crash mid-write leaves the previous snapshot.
The files are the worker's own: they are loaded with pickle and must not come from elsewhere.

A detector's state is restored only into a detector built from the same spec (same
`spec_digest`, same class, same snapshot format and riskwatch version); any mismatch or
unreadable file starts that detector fresh and says why. Restoring is per detector, so a
changed `detectors.yaml` keeps the warm state of every detector it did not touch.

Consistency with the consumer offsets: every snapshot also records, in its files' metadata,
the next offset to process on each partition of the topic its agent consumes (the detect
stage's files: `riskwatch.events`; the grader's: `riskwatch.signals`). The agents save between
records, after flushing the producer, so a snapshot covers exactly the events (signals) before
those offsets, and their outputs are on Kafka. Faust commits offsets every second, far more
often than the agents snapshot, so after a hard kill the group's committed offsets are usually
*ahead* of the snapshot. Before the next worker consumes, `streams/rewind.py` moves them back to
the snapshot's offsets (to the earliest retained record where a partition has no snapshot
offset), so every event after the snapshot is read again by the restored state; the tail that
the killed worker had already processed is re-published with the same ids, which the store and
the grader absorb. This holds for a single worker restart (with several workers, only when the
whole group restarts): Kafka does not let offsets change under a group with live members.

The stage's files are one snapshot only if they agree: a detector file whose offsets differ
from the gate's (a crash between two files of one save) starts that detector fresh; without a
usable gate file no detector is restored, since the stage then re-reads the events from the
earliest retained record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from riskwatch.detectors.registry import Watched
from riskwatch.streams.pipeline import DetectStage

log = logging.getLogger(__name__)

#: Bump when the layout of a snapshot file changes; older files are then ignored.
#: 2: the metadata records the consumed offsets the snapshot covers.
SNAPSHOT_FORMAT = 2
GATE_FILE = "_gate.pkl"
GRADER_FILE = "grader.pkl"
#: The gate's memory (per-stream watermarks, recent ids); its settings and counters stay the worker's own.
GATE_STATE = ("_watermarks", "_seen")

#: Next offset to process, by topic and partition: what a snapshot covers of the topics it reads.
TopicOffsets = dict[str, dict[int, int]]


def riskwatch_version() -> str:
    try:
        return version("riskwatch")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "0+unknown"


class SnapshotMeta(BaseModel):
    """What a snapshot file holds, checked before its state is used."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = SNAPSHOT_FORMAT
    kind: Literal["detector", "gate", "grader"]
    name: str
    class_name: str
    digest: str = ""
    riskwatch_version: str
    saved_at: datetime
    #: Per consumed topic and partition, the next offset the snapshot's state has not seen.
    offsets: TopicOffsets = {}


@dataclass
class RestoreReport:
    """Which parts came back warm and which start fresh (with the reason)."""

    restored: list[str] = field(default_factory=list)
    fresh: dict[str, str] = field(default_factory=dict)
    #: Where the restored state ends on each consumed topic; a partition left out has none of
    #: its records in the state (the worker rewinds it to the earliest retained record).
    offsets: TopicOffsets = field(default_factory=dict)

    def describe(self) -> str:
        warm = ", ".join(self.restored) or "nothing"
        cold = "; ".join(f"{name}: {why}" for name, why in self.fresh.items()) or "none"
        ends = "; ".join(
            f"{topic} " + ", ".join(f"[{p}]@{o}" for p, o in sorted(parts.items()))
            for topic, parts in sorted(self.offsets.items())
        ) or "none"
        return f"state restored: {warm}; starting fresh: {cold}; snapshot offsets: {ends}"


class ConsumedOffsets:
    """The next offset to process on each partition an agent has read: what its snapshot covers.

    Seeded with the restored snapshot's offsets, so a partition that brings no record after a
    restart keeps the offset the state already covers.
    """

    def __init__(self, topic: str, start: Mapping[int, int] | None = None) -> None:
        self.topic = topic
        self._next: dict[int, int] = dict(start or {})

    def processed(self, partition: int, offset: int) -> None:
        """Record that the message at `offset` of `partition` is in the state now."""
        self._next[partition] = offset + 1

    def snapshot(self) -> TopicOffsets:
        """A copy for a snapshot's metadata: `{topic: {partition: next offset}}`."""
        return {self.topic: dict(sorted(self._next.items()))}


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace `path` with `payload` so a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False)
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


class StateStore:
    """Saves and restores snapshots under `directory` (usually `data_dir / "state"`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.detect_dir = self.directory / "detect"

    # ------------------------------------------------------------------ saving

    def save_stage(self, stage: DetectStage, offsets: TopicOffsets | None = None) -> None:
        """Every detector of the stage and its gate, all marked with the `offsets` they cover;
        files of detectors no longer configured go."""
        covered = offsets or {}
        names: set[str] = set()
        for detector in stage.detectors:
            if not isinstance(detector, Watched):
                continue
            names.add(detector.name)
            meta = self._meta("detector", detector.name, detector.inner, detector.digest, covered)
            self._write(self.detect_dir / f"{detector.name}.pkl", meta, detector.get_state())
        gate = {name: getattr(stage.gate, name) for name in GATE_STATE}
        self._write(self.detect_dir / GATE_FILE, self._meta("gate", "gate", stage.gate, "", covered), gate)
        for stale in self.detect_dir.glob("*.pkl"):
            if stale.name != GATE_FILE and stale.stem not in names:
                stale.unlink(missing_ok=True)

    def save_grader(self, grader: object, offsets: TopicOffsets | None = None) -> bool:
        """The grader's state marked with the `offsets` it covers, if it can give one
        (`get_state`); False if it cannot."""
        get_state = getattr(grader, "get_state", None)
        if get_state is None:
            return False
        meta = self._meta("grader", "grader", grader, "", offsets or {})
        self._write(self.directory / GRADER_FILE, meta, get_state())
        return True

    # ------------------------------------------------------------------ restoring

    def restore_stage(self, stage: DetectStage) -> RestoreReport:
        """Put saved state into the stage's detectors and gate where it fits; report the rest.

        The gate's offsets are the stage's: a detector saved at other offsets starts fresh, and
        without a usable gate nothing is restored (the stage re-reads from the earliest record).
        """
        report = RestoreReport()
        detectors = [d for d in stage.detectors if isinstance(d, Watched)]
        gate = self._read(self.detect_dir / GATE_FILE, "gate", "gate", stage.gate, "", report)
        if gate is None:
            for detector in detectors:
                saved = (self.detect_dir / f"{detector.name}.pkl").exists()
                report.fresh[detector.name] = "not restored without a usable gate snapshot" if saved else "no snapshot"
            return report
        gate_meta, gate_state = gate
        for name in GATE_STATE:
            setattr(stage.gate, name, gate_state[name])
        report.restored.append("gate")
        report.offsets.update(gate_meta.offsets)
        for detector in detectors:
            saved = self._read(
                self.detect_dir / f"{detector.name}.pkl", "detector", detector.name, detector.inner, detector.digest, report
            )
            if saved is None:
                continue
            meta, state = saved
            if meta.offsets != gate_meta.offsets:
                report.fresh[detector.name] = "snapshot taken at other offsets than the gate's (an interrupted save)"
                continue
            try:
                detector.set_state(state)
            except Exception as exc:  # noqa: BLE001 - a state that does not fit must not stop the worker
                report.fresh[detector.name] = f"saved state does not fit ({type(exc).__name__}: {exc})"
                continue
            report.restored.append(detector.name)
        return report

    def restore_grader(self, grader: object, report: RestoreReport | None = None) -> bool:
        """Put the saved grader state back, if the grader can take it (`set_state`)."""
        report = report if report is not None else RestoreReport()
        set_state = getattr(grader, "set_state", None)
        if set_state is None:
            report.fresh["grader"] = "this Grader has no set_state"
            return False
        saved = self._read(self.directory / GRADER_FILE, "grader", "grader", grader, "", report)
        if saved is None:
            return False
        meta, state = saved
        try:
            set_state(state)
        except Exception as exc:  # noqa: BLE001
            report.fresh["grader"] = f"saved state does not fit ({type(exc).__name__}: {exc})"
            return False
        report.restored.append("grader")
        report.offsets.update(meta.offsets)
        return True

    # ------------------------------------------------------------------ files

    @staticmethod
    def _meta(
        kind: Literal["detector", "gate", "grader"], name: str, owner: object, digest: str = "",
        offsets: TopicOffsets | None = None,
    ) -> SnapshotMeta:
        return SnapshotMeta(
            kind=kind,
            name=name,
            class_name=f"{type(owner).__module__}.{type(owner).__qualname__}",
            digest=digest,
            riskwatch_version=riskwatch_version(),
            saved_at=datetime.now(UTC),
            offsets=offsets or {},
        )

    @staticmethod
    def _write(path: Path, meta: SnapshotMeta, state: Any) -> None:
        payload = pickle.dumps({"meta": meta.model_dump(mode="json"), "state": state}, protocol=pickle.HIGHEST_PROTOCOL)
        write_atomically(path, payload)

    def _read(
        self, path: Path, kind: str, name: str, owner: object, digest: str, report: RestoreReport
    ) -> tuple[SnapshotMeta, Any] | None:
        """The metadata and state in `path` if it was saved for this kind, name, class and
        spec; else None with the reason in `report.fresh`."""
        if not path.exists():
            report.fresh[name] = "no snapshot"
            return None
        try:
            with path.open("rb") as handle:
                loaded = pickle.load(handle)
            meta = SnapshotMeta.model_validate(loaded["meta"])
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            report.fresh[name] = f"unreadable snapshot {path.name} ({type(exc).__name__}: {exc})"
            return None
        expected = self._meta(kind, name, owner, digest)  # type: ignore[arg-type]
        for field_name in ("format", "kind", "name", "class_name", "digest", "riskwatch_version"):
            have, want = getattr(meta, field_name), getattr(expected, field_name)
            if have != want:
                report.fresh[name] = f"snapshot {field_name} is {have!r}, this worker has {want!r}"
                return None
        return meta, loaded["state"]


class Snapshotter:
    """Decides when the agents save: every `every_s` seconds of wall time, checked between records."""

    def __init__(self, store: StateStore, every_s: float = 60.0) -> None:
        self.store = store
        self.every_s = every_s
        self._last = {"detect": time.monotonic(), "grader": time.monotonic()}

    def due(self, part: Literal["detect", "grader"]) -> bool:
        return time.monotonic() - self._last[part] >= self.every_s

    def saved(self, part: Literal["detect", "grader"]) -> None:
        self._last[part] = time.monotonic()

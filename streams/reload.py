"""Hot reload of `detectors.yaml`: a changed file takes effect without a restart or a cold start.

The worker polls the file's modification time (a Faust timer calls `ConfigReloader.check`).
When it changes, the file is validated exactly as at start-up; then, detector by detector:

* a detector whose spec (type, watch, params, enabled) is unchanged keeps its instance and state;
* a changed or new detector starts fresh (its warm-up starts again); a removed or disabled one goes;
* the event-time gate keeps its memory and takes the new `stream_time` settings.

An invalid file changes nothing: the running detectors stay, and the error — naming the file
and the field, as `riskwatch config validate` does — is logged, once per version of the file.
Only `detectors.yaml` is reloaded; the other config files (regions, taxonomy, grading, routing)
and the grading levels of analyst rules are read at start-up, so changing them needs a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from riskwatch.config.loader import check_detectors_file, load_model
from riskwatch.config.models import DetectorsConfig, TaxonomyConfig
from riskwatch.config.stations import StationsConfig
from riskwatch.detectors.base import Detector
from riskwatch.detectors.registry import Watched, build_detector, spec_digest
from riskwatch.streams.pipeline import DetectStage

log = logging.getLogger(__name__)


@dataclass
class ReloadResult:
    """What one reload did, by detector name."""

    kept: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{label}: {', '.join(names)}" for label, names in
                 (("kept", self.kept), ("rebuilt", self.rebuilt), ("added", self.added), ("removed", self.removed)) if names]
        return "; ".join(parts) or "no detectors"


def apply_detectors_config(
    stage: DetectStage, config: DetectorsConfig, taxonomy: TaxonomyConfig, stations: StationsConfig | None = None
) -> ReloadResult:
    """Make `stage` run `config`'s detectors, keeping the instances whose spec did not change.

    Every new detector is built before anything is swapped, so a detector that fails to build
    leaves the stage as it was.
    """
    current = {d.name: d for d in stage.detectors if isinstance(d, Watched)}
    result = ReloadResult()
    detectors: list[Detector] = []
    for index, spec in enumerate(config.detectors):
        if not spec.enabled:
            continue
        old = current.get(spec.name)
        if old is not None and old.digest == spec_digest(spec):
            detectors.append(old)
            result.kept.append(spec.name)
            continue
        detectors.append(build_detector(index, spec, taxonomy, stations))
        (result.rebuilt if old is not None else result.added).append(spec.name)
    result.removed = [name for name in current if name not in {d.name for d in detectors}]
    times = config.stream_time
    stage.gate.allowed_lateness = times.allowed_lateness
    stage.gate.dedup_horizon = max(times.dedup_horizon, times.allowed_lateness)
    stage.detectors = detectors
    return result


class ConfigReloader:
    """Watches one `detectors.yaml` and applies it to the worker's `DetectStage`s when it changes.

    `stages` is one stage, or a callable giving every stage held now (one per partition); a
    stage built later takes the reloaded config with `apply_current`.
    """

    def __init__(
        self,
        path: Path,
        stages: DetectStage | Callable[[], Iterable[DetectStage]],
        taxonomy: TaxonomyConfig,
        stations: StationsConfig | None = None,
    ) -> None:
        self.path = Path(path)
        self._stages: Callable[[], Iterable[DetectStage]] = (lambda: [stages]) if isinstance(stages, DetectStage) else stages
        self.taxonomy = taxonomy
        self.stations = stations  # stations.yaml as the worker started: not reloaded
        self._seen = self._mtime()
        self.last_error: str | None = None
        #: The config applied by the last successful reload (None: the one the worker started with).
        self.applied: DetectorsConfig | None = None

    def apply_current(self, stage: DetectStage) -> None:
        """Give a stage built from the start-up config the detectors config reloaded since."""
        if self.applied is not None:
            apply_detectors_config(stage, self.applied, self.taxonomy, self.stations)

    def _mtime(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def check(self) -> ReloadResult | None:
        """Reload if the file changed since the last check; None if unchanged or invalid."""
        mtime = self._mtime()
        if mtime == self._seen:
            return None
        self._seen = mtime
        try:
            config = load_model(self.path, DetectorsConfig)
            check_detectors_file(self.path, config, self.taxonomy)
            results = [apply_detectors_config(stage, config, self.taxonomy, self.stations) for stage in self._stages()]
        except Exception as exc:  # noqa: BLE001 - a bad edit must never stop the worker
            self.last_error = str(exc)
            log.error("detectors config not reloaded, the running detectors stay: %s", exc)
            return None
        self.last_error = None
        self.applied = config
        result = results[0] if results else ReloadResult(kept=[spec.name for spec in config.detectors if spec.enabled])
        log.warning("detectors config reloaded from %s (%d partition stages): %s", self.path, len(results), result.describe())
        return result

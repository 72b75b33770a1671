"""Series detectors by name, each imported only when asked for (PyOD and friends are heavy).

`SERIES_DETECTORS` lists the built-in ones; `register` adds more (a test's stand-in, a plugin).
The names a `series_anomaly` detector may use in config are declared again, with their
parameters, in `riskwatch.config.detector_params.SERIES_MODELS`, so that config validation needs
no detector import; a test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

from riskwatch.detectors.lazy import LazyRegistry
from riskwatch.detectors.series.base import SeriesDetector

#: name → "module:Class". Add an entry to make a detector available in config and `riskwatch score`.
SERIES_DETECTORS: LazyRegistry[type[SeriesDetector]] = LazyRegistry(
    "series detector",
    {
        # Robust multi-feature novelty detector
        "default": "riskwatch.detectors.series.robust:DefaultDetector",
        "robust": "riskwatch.detectors.series.robust:RobustNoveltyDetector",
        # PyOD models over windowed features
        "ecod": "riskwatch.detectors.series.pyod_models:ECODDetector",
        "iforest": "riskwatch.detectors.series.pyod_models:IForestDetector",
        "copod": "riskwatch.detectors.series.pyod_models:COPODDetector",
        "hbos": "riskwatch.detectors.series.pyod_models:HBOSDetector",
        "knn": "riskwatch.detectors.series.pyod_models:KNNDetector",
        "lof": "riskwatch.detectors.series.pyod_models:LOFDetector",
        "ensemble": "riskwatch.detectors.series.pyod_models:EnsembleDetector",
    },
    base=SeriesDetector,
)

#: The detector `riskwatch score` uses when none is named.
DEFAULT_SERIES_DETECTOR = "default"


def register(name: str, target: str) -> None:
    """Make `module:Class` available under `name`."""
    SERIES_DETECTORS.register(name, target)


def known_series_detectors() -> dict[str, str]:
    """Every registered name → its "module:Class"."""
    return dict(SERIES_DETECTORS)


def series_detector_class(name: str) -> type[SeriesDetector]:
    """The class registered under `name` (imports its module)."""
    return SERIES_DETECTORS.load(name)


def make_series_detector(name: str, **params: Any) -> SeriesDetector:
    """A fresh detector of that name with those parameters."""
    return series_detector_class(name)(**params)

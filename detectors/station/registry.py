"""Station detectors by name, each imported only when asked for (PyOD is heavy).

`riskwatch score --station --detector NAME` and a station's `detector:` in config name one of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from riskwatch.detectors.lazy import LazyRegistry
from riskwatch.detectors.station.base import StationDetector

#: name → "module:Class".
STATION_DETECTORS: LazyRegistry[type[StationDetector]] = LazyRegistry(
    "station detector",
    {
        # T²+Q over the channels' rolling means: the best on SKAB, so the default
        "station": "riskwatch.detectors.station.pyod_station:DefaultStationDetector",
        "station_pca": "riskwatch.detectors.station.pyod_station:PCAStationDetector",
        # PyOD models over the same features
        "station_ecod": "riskwatch.detectors.station.pyod_station:ECODStationDetector",
        "station_copod": "riskwatch.detectors.station.pyod_station:COPODStationDetector",
        "station_iforest": "riskwatch.detectors.station.pyod_station:IForestStationDetector",
        "station_hbos": "riskwatch.detectors.station.pyod_station:HBOSStationDetector",
    },
    base=StationDetector,
)

#: The detector `riskwatch score --station` uses when none is named.
DEFAULT_STATION_DETECTOR = "station"


def known_station_detectors() -> dict[str, str]:
    """Every registered name → its "module:Class"."""
    return dict(STATION_DETECTORS)


def station_detector_class(name: str) -> type[StationDetector]:
    """The class registered under `name` (imports its module)."""
    return STATION_DETECTORS.load(name)


def make_station_detector(name: str, channels: Sequence[str], **params: Any) -> StationDetector:
    """A fresh detector of that name over those channels with those parameters."""
    return station_detector_class(name)(channels, **params)

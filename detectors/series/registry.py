"""Series detectors by name, imported only when asked for (PyOD and friends are heavy)."""

from __future__ import annotations

import importlib
from typing import Any

from riskwatch.detectors.series.base import SeriesDetector

#: name → "module:Class". Add an entry to make a detector available in config and `riskwatch score`.
#: Read it through `known_series_detectors()`, which loads the built-in entries first.
SERIES_DETECTORS: dict[str, str] = {}

#: The detector `riskwatch score` uses when none is named.
DEFAULT_SERIES_DETECTOR = "default"


def register(name: str, target: str) -> None:
    """Make `module:Class` available under `name`."""
    SERIES_DETECTORS[name] = target


def known_series_detectors() -> dict[str, str]:
    """Every registered name, the built-in ones (`builtin.py`) included."""
    import riskwatch.detectors.series.builtin  # noqa: F401 - its register() calls fill the table

    return SERIES_DETECTORS


def series_detector_class(name: str) -> type[SeriesDetector]:
    known_series_detectors()
    try:
        module_name, class_name = SERIES_DETECTORS[name].split(":")
    except KeyError as exc:
        raise KeyError(f"unknown series detector {name!r}; known: {sorted(SERIES_DETECTORS)}") from exc
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, SeriesDetector)):
        raise TypeError(f"{SERIES_DETECTORS[name]} is not a SeriesDetector")
    return cls


def make_series_detector(name: str, **params: Any) -> SeriesDetector:
    """A fresh detector of that name with those parameters."""
    return series_detector_class(name)(**params)

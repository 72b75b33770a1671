"""Crediting a warning's outcome to the detectors whose signals raised it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["resolve_seconds", "signals_by_detector"]


def signals_by_detector(signals: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Signal ids of a warning grouped by the detector that emitted them, in first-seen order."""
    grouped: dict[str, list[str]] = {}
    for signal in signals:
        ids = grouped.setdefault(str(signal["detector"]), [])
        signal_id = str(signal["signal_id"])
        if signal_id not in ids:
            ids.append(signal_id)
    return grouped


def resolve_seconds(raised_at: datetime | None, settled_at: datetime) -> float | None:
    """Seconds from the warning entering the queue to its outcome; None if the start is unknown."""
    if raised_at is None:
        return None
    return max(0.0, (settled_at - raised_at).total_seconds())

"""The detector contract: observe one canonical event, return the signals it raises.

Detectors are plain Python objects with no Kafka in them. They are causal: what they return
for an event depends only on the events observed before it and the event itself.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from riskwatch.schemas import Event, Signal


@runtime_checkable
class Detector(Protocol):
    """Anything with a name that turns events into signals."""

    name: str

    def accepts(self, event: Event) -> bool:
        """Whether this detector looks at this event at all."""
        ...

    def observe(self, event: Event) -> list[Signal]:
        """Learn from the event and return any signals it raises (usually none)."""
        ...


def excess_to_score(excess: float, threshold: float) -> float:
    """Map a deviation (a z-score) to [0, 1]: 0.5 at the threshold, approaching 1 as it grows.

    Each further `threshold` of deviation halves the distance to 1, so the score stays ordered
    and comparable across detectors without saturating early.
    """
    if excess <= 0:
        return 0.0
    return round(1.0 - math.pow(0.5, excess / threshold), 4)


def observe_all(detectors: list[Detector], event: Event) -> list[Signal]:
    """Feed one event to every detector that accepts it."""
    signals: list[Signal] = []
    for detector in detectors:
        if detector.accepts(event):
            signals.extend(detector.observe(event))
    return signals

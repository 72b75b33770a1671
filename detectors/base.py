"""The detector contract: observe one canonical event, return the signals it raises.

Detectors are plain Python objects with no Kafka in them. They are causal: what they return
for an event depends only on the events observed before it and the event itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from riskwatch.contracts import Event, Signal, SignalKind, stable_id


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

    # Optional, see `WarmingUp`: `warming_up(self) -> bool`. Not part of this protocol so that
    # a detector without a warm-up (alarm limits, rules) needs nothing.


@runtime_checkable
class WarmingUp(Protocol):
    """A detector that can say it is still warming up.

    `warming_up()` is True while the detector cannot yet raise its signals for most of what it
    watches — before its baseline covers its warm-up, before any series is fitted — so the
    command center can tell a quiet screen from a quiet city. Cheap to call (a health beat
    asks every detector), never changes state.
    """

    def warming_up(self) -> bool: ...


def is_warming_up(detector: object) -> bool:
    """Whether `detector` says it is warming up; a detector that cannot say never is."""
    return isinstance(detector, WarmingUp) and bool(detector.warming_up())


def warming_detectors(detectors: Iterable[object]) -> list[str]:
    """Names of the detectors still warming up, sorted."""
    return sorted(str(getattr(d, "name", type(d).__name__)) for d in detectors if is_warming_up(d))


def excess_to_score(excess: float, threshold: float) -> float:
    """Map a deviation (a z-score) to [0, 1]: 0.5 at the threshold, approaching 1 as it grows.

    Each further `threshold` of deviation halves the distance to 1, so the score stays ordered
    and comparable across detectors without saturating early.
    """
    if excess <= 0:
        return 0.0
    return round(1.0 - math.pow(0.5, excess / threshold), 4)


def make_signal(
    detector: str,
    kind: SignalKind,
    event: Event,
    key: Iterable[object],
    *,
    score: float,
    observed: float,
    expected: float | None,
    reason: str,
    evidence: Iterable[str],
    hard_rule: str | None = None,
    region_code: str | None = None,
    district_code: str | None = None,
    category: str | None = None,
    at: datetime | None = None,
    warming: bool = False,
) -> Signal:
    """The signal `detector` raises on `event`, with the id `stable_id(detector, *key)`.

    `key` names the finding (the event, or a bucket and its count, or a rule and its evidence),
    so a replay raises the same id. Source, place, category and time are the event's unless
    given: a count detector signals for the region it counts in, a gap check at the time it
    noticed the silence. `warming`: the series it judged has too little history to be trusted alone.
    """
    return Signal(
        signal_id=stable_id(detector, *key),
        detector=detector,
        kind=kind,
        source=event.source,
        region_code=event.region_code if region_code is None else region_code,
        district_code=event.district_code if district_code is None else district_code,
        category=event.category if category is None else category,
        at=event.occurred_at if at is None else at,
        score=score,
        observed=observed,
        expected=expected,
        reason=reason,
        hard_rule=hard_rule,
        evidence=tuple(evidence),
        warming=warming,
    )


def renamed(signal: Signal, name: str, suffix: str = "") -> Signal:
    """`signal` raised under the name `name` (+ `suffix`), its id derived from `name` and its own id.

    Two configured detectors of one type, or a detector and its fallback, thus never share ids.
    """
    return signal.model_copy(update={"detector": name + suffix, "signal_id": stable_id(name, signal.signal_id)})


@runtime_checkable
class Stateful(Protocol):
    """A detector that names its own state: plain data that `set_state` accepts back."""

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: dict[str, Any]) -> None: ...


def detector_state(detector: object) -> dict[str, Any]:
    """What a restarted worker needs to resume `detector` exactly where it stopped.

    A detector with `get_state` chooses its own state; any other detector's state is its
    attributes (a shallow copy; the snapshot writer pickles them). Configuration held in
    attributes travels along, which is harmless: state is only restored into a detector built
    from the same spec.
    """
    if isinstance(detector, Stateful):
        return {"codec": "get_state", "state": detector.get_state()}
    return {"codec": "attributes", "state": dict(vars(detector))}


def restore_detector_state(detector: object, saved: dict[str, Any]) -> None:
    """Put back what `detector_state` returned for a detector of the same class and spec."""
    codec = saved.get("codec")
    if codec == "get_state" and isinstance(detector, Stateful):
        detector.set_state(saved["state"])
    elif codec == "attributes" and not isinstance(detector, Stateful):
        vars(detector).update(saved["state"])
    else:
        raise ValueError(f"state saved with codec {codec!r} does not fit a {type(detector).__name__}")


def mark_warming(signals: list[Signal], detector: object) -> list[Signal]:
    """`signals` as raised by `detector`: all marked `warming` while it says it is warming up.

    A detector may mark single signals itself (a series still short of its baseline); this adds
    the detector-wide answer, so no detector's cold signals can raise a warning on their own.
    """
    if not signals or not is_warming_up(detector):
        return signals
    return [s if s.warming else s.model_copy(update={"warming": True}) for s in signals]


def observe_all(detectors: list[Detector], event: Event) -> list[Signal]:
    """Feed one event to every detector that accepts it; signals of a warming detector are marked so."""
    signals: list[Signal] = []
    for detector in detectors:
        if detector.accepts(event):
            signals.extend(mark_warming(detector.observe(event), detector))
    return signals

"""What the NAB-style scorers of the benchmarks share: the application profiles and the normalisation.

Both `synthetic_nab.py` (the original Numenta scoring: sigmoid-weighted windows centred on each
label, a distance-weighted cost for late false positives) and `skab_metrics.py` (SKAB's variant
from its `tsad` library: windows to the right of each changepoint, a tanh reward and a flat
false-positive cost) weigh detections with the same three profiles and report
``100 * (score - null) / (perfect - null)``, so the null detector (never alarms) scores 0 and a
perfect one 100.
"""

from __future__ import annotations

#: name → (A_TP, A_FP, A_FN): reward of a detected window, cost of a false positive, cost of a missed window.
PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, -0.11, -1.0),
    "reward_low_FP": (1.0, -0.22, -1.0),
    "reward_low_FN": (1.0, -0.11, -2.0),
}


def normalised(raw: float, null: float, perfect: float) -> float:
    """``raw`` on the NAB scale: 0 for the null detector's ``null``, 100 for the perfect ``perfect``."""
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)

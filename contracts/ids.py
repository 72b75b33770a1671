"""Deterministic ids, so a replay after a crash produces the ids it produced before."""

from __future__ import annotations

import hashlib
from typing import Any


def stable_id(*parts: Any, length: int = 20) -> str:
    """A short deterministic id from its parts, so replays produce the same ids."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return digest[:length]

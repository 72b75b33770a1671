"""Helpers for the web-view browser tests: Debian's Chromium driven by Playwright, and warnings
of the sample city to save while the page watches.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Browser, Error, sync_playwright

from riskwatch.contracts import Level, MsgType, SignalKind, SignalSummary, Source, Warning, WarningStatus
from tests.unavailable import unavailable

__all__ = ["chromium", "street_warning"]

GRID = "410105002001001"  # 金水区花园路街道 第1网格 (config/regions.yaml)
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


# --------------------------------------------------------------------------- browser


def chromium_executable() -> str | None:
    """The system Chromium (Debian's `chromium` package), if installed."""
    for name in CHROMIUM_CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless system Chromium under Playwright (no downloaded browser); fails in CI if missing."""
    executable = chromium_executable()
    if executable is None:
        unavailable("no system Chromium on PATH (Debian package `chromium`)")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        except Error as exc:
            unavailable(f"cannot launch {executable} with Playwright: {exc}")
        try:
            yield browser
        finally:
            browser.close()


# --------------------------------------------------------------------------- warnings


def street_warning(warning_id: str, title: str, **overrides: Any) -> Warning:
    """A new level-II water-supply warning in a grid of 花园路街道, first seen now."""
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "warning_id": warning_id,
        "version": 1,
        "msg_type": MsgType.alert,
        "level": Level.II,
        "status": WarningStatus.new,
        "region_code": GRID,
        "region_name": "金水区花园路街道花园路第1网格",
        "district_code": GRID[:6],
        "category": "water_supply",
        "category_name": "供水",
        "title": title,
        "department": "water_group",
        "first_seen": now,
        "updated_at": now,
        "score": 0.82,
        "sources": (Source.sensor, Source.hotline),
        "explanation": ("水压 0.12 MPa，低于告警限 0.20 MPa", "30 分钟内 14 起停水来电，预期 2.1 起"),
        "signals": (
            SignalSummary(
                signal_id=f"{warning_id}-s1",
                detector="water_pressure_limit",
                kind=SignalKind.threshold,
                source=Source.sensor,
                region_code=GRID,
                at=now,
                score=0.95,
                observed=0.12,
                expected=0.35,
                reason="水压低于告警限",
            ),
        ),
    }
    fields.update(overrides)
    return Warning(**fields)

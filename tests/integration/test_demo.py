"""The README's first command: `riskwatch demo` on the embedded broker prints graded warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from riskwatch.alerts.store import WarningStore

pytestmark = pytest.mark.integration


def test_demo_prints_a_graded_warning_and_stores_it(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "riskwatch", "demo", "--duration", "240"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "embedded Kafka-compatible broker" in output
    assert "金水区花园路街道供水橙色预警[Ⅱ级/严重]" in output
    assert "warnings by level:" in output and "II: 1" in output
    stored = WarningStore(f"sqlite:///{tmp_path / 'riskwatch-demo.db'}").list(region_prefix="410105002", category="water_supply")
    assert stored and stored[0].level.value == "II"

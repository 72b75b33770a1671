"""Hot reload of detectors.yaml: untouched detectors keep their state, bad files change nothing."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from riskwatch.config.loader import DEFAULT_CONFIG_DIR, load_city_config
from riskwatch.contracts import Source
from riskwatch.streams.normalize import Normalizer
from riskwatch.streams.pipeline import DetectStage
from riskwatch.streams.reload import ConfigReloader
from tests.factories import T0, sensor


@pytest.fixture()
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "city"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    return target


def edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    stat = path.stat()  # a distinct mtime even on coarse clocks
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def spec(doc: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(d for d in doc["detectors"] if d["name"] == name)


def warm_stage(config_dir: Path) -> DetectStage:
    config = load_city_config(config_dir)
    stage = DetectStage(config)
    normalizer = Normalizer(config)
    for i in range(30):
        event = normalizer.normalize(Source.sensor, sensor("WP-1", T0 + timedelta(minutes=5 * i), 0.3))
        stage(event)
    return stage


def test_unchanged_detectors_keep_their_instances_changed_ones_start_fresh(config_dir: Path) -> None:
    stage = warm_stage(config_dir)
    config = load_city_config(config_dir)
    reloader = ConfigReloader(config_dir / "detectors.yaml", stage, config.taxonomy)
    before = {d.name: d for d in stage.detectors}
    assert reloader.check() is None  # nothing changed yet

    def change(doc: dict) -> None:  # type: ignore[type-arg]
        spec(doc, "sensor_baseline")["params"]["z_threshold"] = 5.0
        doc["detectors"] = [d for d in doc["detectors"] if d["name"] != "burst"]
        doc["stream_time"]["allowed_lateness"] = "PT3H"

    edit(config_dir / "detectors.yaml", change)
    result = reloader.check()
    assert result is not None
    after = {d.name: d for d in stage.detectors}
    assert "sensor_baseline" in result.rebuilt and after["sensor_baseline"] is not before["sensor_baseline"]
    assert after["sensor_baseline"].inner.config.z_threshold == 5.0  # type: ignore[attr-defined]
    assert result.removed == ["burst"] and "burst" not in after
    assert after["sensor_health"] is before["sensor_health"] and "sensor_health" in result.kept
    assert after["sensor_health"].inner._series  # type: ignore[attr-defined]  # warm state kept
    assert stage.gate.allowed_lateness == timedelta(hours=3)
    assert reloader.check() is None  # applied once per change


def test_invalid_file_keeps_the_running_detectors_and_logs_file_and_field(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stage = warm_stage(config_dir)
    config = load_city_config(config_dir)
    reloader = ConfigReloader(config_dir / "detectors.yaml", stage, config.taxonomy)
    before = list(stage.detectors)
    edit(config_dir / "detectors.yaml", lambda doc: spec(doc, "count_surge")["params"].update(min_count=0))
    with caplog.at_level(logging.ERROR, logger="riskwatch.streams.reload"):
        assert reloader.check() is None
    assert stage.detectors == before
    assert reloader.last_error is not None
    index = [d.name for d in config.detectors.detectors].index("count_surge")
    assert "detectors.yaml" in reloader.last_error and f"detectors.{index}.params.min_count" in reloader.last_error
    assert "not reloaded" in caplog.text

    # Fixing the file applies it.
    edit(config_dir / "detectors.yaml", lambda doc: spec(doc, "count_surge")["params"].update(min_count=5))
    result = reloader.check()
    assert result is not None and result.rebuilt == ["count_surge"]
    assert reloader.last_error is None

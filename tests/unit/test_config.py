"""Config files are validated at load; errors name the file, the field and what was expected."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from riskwatch.config.detector_params import DETECTOR_PARAMS, rule_levels
from riskwatch.config.loader import DEFAULT_CONFIG_DIR, ConfigError, load_city_config
from riskwatch.config.models import DETECTOR_TYPES, HardRule
from riskwatch.contracts import Level
from riskwatch.tools.cli import app


def _copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    target.mkdir(parents=True)
    for name in ("regions.yaml", "taxonomy.yaml", "grading.yaml", "routing.yaml", "detectors.yaml"):
        shutil.copy(DEFAULT_CONFIG_DIR / name, target / name)
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_shipped_config_loads() -> None:
    config = load_city_config()
    assert config.regions.city_code == "410100"
    assert len(config.regions.districts) >= 4


def test_bad_field_names_file_field_and_expectation(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    _edit(directory / "regions.yaml", lambda d: d["districts"][0]["streets"][1].update(code="41010"))
    with pytest.raises(ConfigError) as caught:
        load_city_config(directory)
    message = str(caught.value)
    assert "regions.yaml" in message
    assert "districts.0.streets.1.code" in message
    assert "pattern" in message and "'41010'" in message


def test_cross_reference_errors_are_named(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    _edit(directory / "taxonomy.yaml", lambda d: d["police_types"].update({"0999": "aliens"}))
    with pytest.raises(ConfigError, match=r"taxonomy.yaml.*unknown category 'aliens'"):
        load_city_config(directory)


def test_bands_must_be_ordered(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    _edit(directory / "grading.yaml", lambda d: d["bands"][0].update(min_score=0.1))
    with pytest.raises(ConfigError, match="grading.yaml"):
        load_city_config(directory)


def test_not_yaml_is_a_clear_error(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    (directory / "routing.yaml").write_text("departments: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="routing.yaml: not valid YAML"):
        load_city_config(directory)


def test_config_validate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["config", "validate", str(DEFAULT_CONFIG_DIR / "grading.yaml"), str(DEFAULT_CONFIG_DIR)])
    assert ok.exit_code == 0, ok.output
    directory = _copy_config(tmp_path)
    _edit(directory / "detectors.yaml", lambda d: d["detectors"][2]["params"].update(min_count=0))
    bad = runner.invoke(app, ["config", "validate", str(directory / "detectors.yaml")])
    assert bad.exit_code == 1
    assert "detectors.yaml" in bad.output and "detectors.2.params.min_count" in bad.output


def test_unknown_detector_type_and_repeated_names_are_refused(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    _edit(directory / "detectors.yaml", lambda d: d["detectors"][1].update(type="crystal_ball"))
    with pytest.raises(ConfigError, match=r"detectors.1.*crystal_ball"):
        load_city_config(directory)
    directory = _copy_config(tmp_path / "again")
    _edit(directory / "detectors.yaml", lambda d: d["detectors"][1].update(name="alarm_limits"))
    with pytest.raises(ConfigError, match="repeated"):
        load_city_config(directory)


def test_every_detector_type_has_one_params_model() -> None:
    assert set(DETECTOR_PARAMS) == set(DETECTOR_TYPES)
    assert all(issubclass(model, BaseModel) for model in DETECTOR_PARAMS.values())


def test_series_model_name_and_parameters_fail_at_load_with_file_and_field(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    _edit(directory / "detectors.yaml", lambda d: d["detectors"][2]["params"].update(model="prophecy"))
    with pytest.raises(ConfigError) as caught:
        load_city_config(directory)
    message = str(caught.value)
    assert "detectors.yaml" in message and "detectors.2.params.model:" in message and "'prophecy'" in message
    directory = _copy_config(tmp_path / "again")
    _edit(directory / "detectors.yaml", lambda d: d["detectors"][2]["params"]["model_params"].update(refit_evry=48))
    with pytest.raises(ConfigError) as caught:
        load_city_config(directory)
    message = str(caught.value)
    assert "detectors.2.params.model_params:" in message and "refit_evry" in message and "refit_every" in message


def test_rule_levels_come_from_the_detectors_config() -> None:
    config = load_city_config()
    assert rule_levels(config.detectors, config.taxonomy) == [HardRule(rule="water_main_break", level=Level.III)]
    disabled = config.detectors.model_copy(
        update={"detectors": [s.model_copy(update={"enabled": s.type != "rules"}) for s in config.detectors.detectors]}
    )
    assert rule_levels(disabled, config.taxonomy) == []


def test_loading_and_validating_config_imports_no_detector() -> None:
    code = (
        "import sys\n"
        "from riskwatch.config.loader import check_detectors_file, load_city_config\n"
        "config = load_city_config()\n"
        "check_detectors_file(config.directory / 'detectors.yaml', config.detectors)\n"
        "sys.exit(sorted(m for m in sys.modules if m.startswith('riskwatch.detectors')) or None)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr

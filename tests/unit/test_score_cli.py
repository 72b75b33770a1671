"""`riskwatch score`: the command external benchmarks call, file in → file out, row for row."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from riskwatch.detectors.series.registry import make_series_detector
from riskwatch.tools.score.cli import register
from riskwatch.tools.score.scoring import parse_timestamp, score_files

runner = CliRunner()


def _app() -> typer.Typer:
    """A CLI shaped like `riskwatch`: `score` is one subcommand among others."""
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # pragma: no cover - only makes `score` a subcommand
        pass

    return app


def _series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = 40 + 8 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, n)
    v[int(0.8 * n)] += 15
    return v


def _write(path: Path, stamps: list[str], values: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        handle.write("timestamp,value\n")
        for t, v in zip(stamps, values):
            handle.write(f"{t},{v}\n")
    return path


def _nab_file(path: Path, n: int = 700, seed: int = 1, fmt: str = "%Y-%m-%d %H:%M:%S") -> Path:
    t0 = datetime(2014, 4, 1)
    stamps = [(t0 + timedelta(minutes=5 * i)).strftime(fmt) for i in range(n)]
    return _write(path, stamps, [repr(float(x)) for x in _series(n, seed)])


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def _invoke(*args: str | Path):
    return runner.invoke(_app(), ["score", *map(str, args)])


def test_output_is_row_for_row_with_exact_columns(tmp_path: Path) -> None:
    src = _nab_file(tmp_path / "machine_temperature.csv")
    result = _invoke("--out", tmp_path / "out", src)
    assert result.exit_code == 0, result.output
    rows_in = _read(src)
    rows_out = _read(tmp_path / "out" / "machine_temperature.csv")
    assert rows_out[0] == ["timestamp", "value", "anomaly_score"]
    assert len(rows_out) == len(rows_in)
    for a, b in zip(rows_in[1:], rows_out[1:]):
        assert b[:2] == a  # the same timestamp and value text
        assert 0.0 <= float(b[2]) <= 1.0
    scores = np.array([float(r[2]) for r in rows_out[1:]])
    assert scores.max() > 0 and np.argmax(scores) == int(0.8 * 700)  # the spike is the top point


def test_scores_are_what_the_detector_gives(tmp_path: Path) -> None:
    src = _nab_file(tmp_path / "a.csv", n=900, seed=4)
    assert _invoke("--out", tmp_path / "out", src).exit_code == 0
    got = np.array([float(r[2]) for r in _read(tmp_path / "out" / "a.csv")[1:]])
    t0 = datetime(2014, 4, 1)
    stamps = [parse_timestamp((t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S")) for i in range(900)]
    want = make_series_detector("default").score_series(stamps, _series(900, 4))
    np.testing.assert_array_equal(got, want)


def test_several_inputs_in_one_call_each_with_a_fresh_detector(tmp_path: Path) -> None:
    a = _nab_file(tmp_path / "a.csv", seed=1)
    b = _nab_file(tmp_path / "b.csv", seed=1, fmt="%Y-%m-%dT%H:%M:%S+08:00")  # ISO with an offset
    c = _nab_file(tmp_path / "c.csv", seed=2, fmt="%Y-%m-%dT%H:%M:%SZ")
    result = _invoke("--out", tmp_path / "out", a, b, c)
    assert result.exit_code == 0, result.output
    outs = {p.name: _read(tmp_path / "out" / p.name) for p in (a, b, c)}
    assert all(len(rows) == 701 for rows in outs.values())
    # same values and spacing: same scores, whatever the timestamp spelling (fresh state per file)
    assert [r[2] for r in outs["a.csv"]] == [r[2] for r in outs["b.csv"]]
    assert [r[2] for r in outs["a.csv"]] != [r[2] for r in outs["c.csv"]]
    assert outs["b.csv"][1][0] == "2014-04-01T00:00:00+08:00"


def test_two_worker_processes_give_the_same_files(tmp_path: Path) -> None:
    inputs = [_nab_file(tmp_path / f"s{i}.csv", n=500, seed=i) for i in range(3)]
    one = score_files(inputs, tmp_path / "one", workers=1)
    two = score_files(inputs, tmp_path / "two", workers=2)
    assert [r.error for r in one + two] == [None] * 6
    for p in inputs:
        assert (tmp_path / "one" / p.name).read_text() == (tmp_path / "two" / p.name).read_text()


def test_unknown_detector_is_a_clear_error(tmp_path: Path) -> None:
    src = _nab_file(tmp_path / "a.csv", n=50)
    result = _invoke("--detector", "nope", "--out", tmp_path / "out", src)
    assert result.exit_code != 0
    assert "unknown detector 'nope'" in result.output
    assert "default" in result.output  # the known names are listed
    assert not (tmp_path / "out" / "a.csv").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("detector: default\nparams:\n  history: lots\n", "params.history"),
        ("detector: default\nparams:\n  histroy: 500\n", "params.histroy"),
        ("detector: default\nparams:\n  refractory: 5\n", "params"),
        ("detectr: default\n", "detectr"),
        ("detector: nope\n", "detector"),
        ("detector: [default\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_bad_config_names_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    cfg = tmp_path / "my-detector.yaml"
    cfg.write_text(text)
    src = _nab_file(tmp_path / "a.csv", n=50)
    result = _invoke("--config", cfg, "--out", tmp_path / "out", src)
    assert result.exit_code != 0
    assert "my-detector.yaml" in result.output
    assert expected in result.output


def test_config_params_reach_the_detector_and_detector_flag_wins(tmp_path: Path) -> None:
    src = _nab_file(tmp_path / "a.csv", n=900, seed=3)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("detector: nope-overridden\nparams:\n  history: 200\n  scales: [4, 16]\n")
    result = _invoke("--config", cfg, "--detector", "robust", "--out", tmp_path / "tuned", src)
    assert result.exit_code == 0, result.output
    assert _invoke("--out", tmp_path / "plain", src).exit_code == 0
    tuned = [r[2] for r in _read(tmp_path / "tuned" / "a.csv")]
    plain = [r[2] for r in _read(tmp_path / "plain" / "a.csv")]
    assert tuned != plain


def test_rows_with_bad_values_are_kept_and_carry_the_last_score(tmp_path: Path) -> None:
    n = 800
    t0 = datetime(2014, 4, 1)
    stamps = [(t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]
    values = [repr(float(x)) for x in _series(n, 7)]
    bad = {300: "", 301: "abc", 500: "nan", 640: "inf"}
    dirty = [bad.get(i, v) for i, v in enumerate(values)]
    stamps_dirty = list(stamps)
    stamps_dirty[700] = "not a time"
    src = _write(tmp_path / "dirty.csv", stamps_dirty, dirty)
    keep = [i for i in range(n) if i not in bad and i != 700]
    clean = _write(tmp_path / "clean.csv", [stamps[i] for i in keep], [values[i] for i in keep])
    result = _invoke("--out", tmp_path / "out", src, clean)
    assert result.exit_code == 0, result.output
    assert "5 row(s)" in result.output
    out = _read(tmp_path / "out" / "dirty.csv")[1:]
    assert [r[:2] for r in out] == [[t, v] for t, v in zip(stamps_dirty, dirty)]
    scores = [float(r[2]) for r in out]
    for i in [*bad, 700]:
        assert scores[i] == scores[i - 1]
    clean_scores = [float(r[2]) for r in _read(tmp_path / "out" / "clean.csv")[1:]]
    assert [scores[i] for i in keep] == clean_scores  # bad rows are not shown to the detector


def test_bad_files_are_reported_and_the_others_still_scored(tmp_path: Path) -> None:
    good = _nab_file(tmp_path / "good.csv", n=60)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("time,reading\n2014-04-01 00:00:00,1\n")
    result = _invoke("--out", tmp_path / "out", wrong, good)
    assert result.exit_code == 1
    assert "wrong.csv" in result.output and "timestamp" in result.output
    assert (tmp_path / "out" / "good.csv").exists()
    missing = _invoke("--out", tmp_path / "out", tmp_path / "absent.csv")
    assert missing.exit_code != 0 and "absent.csv" in missing.output
    (tmp_path / "x").mkdir()
    clash = _nab_file(tmp_path / "x" / "good.csv", n=60)
    same_name = _invoke("--out", tmp_path / "out2", good, clash)
    assert same_name.exit_code != 0 and "good.csv" in same_name.output


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    header_only = tmp_path / "h.csv"
    header_only.write_text("timestamp,value\n")
    result = _invoke("--out", tmp_path / "out", header_only)
    assert result.exit_code == 0, result.output
    assert _read(tmp_path / "out" / "h.csv") == [["timestamp", "value", "anomaly_score"]]


def test_runs_as_a_module_in_one_process(tmp_path: Path) -> None:
    inputs = [_nab_file(tmp_path / f"f{i}.csv", n=300, seed=i) for i in range(3)]
    proc = subprocess.run(
        [sys.executable, "-m", "riskwatch.tools.score", "--out", str(tmp_path / "out"), *map(str, inputs)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for p in inputs:
        assert len(_read(tmp_path / "out" / p.name)) == 301


def test_timestamps_naive_is_utc_and_offsets_are_converted() -> None:
    a = parse_timestamp("2014-04-01 00:00:00")
    b = parse_timestamp("2014-04-01T08:00:00+08:00")
    assert a == b and a is not None and a.utcoffset() is not None and a.utcoffset().total_seconds() == 0
    assert parse_timestamp("yesterday") is None and parse_timestamp("") is None

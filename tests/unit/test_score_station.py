"""`riskwatch score --station`: multichannel CSVs in, timestamp,anomaly_score,is_anomaly out, row for row."""

from __future__ import annotations

import csv
import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from riskwatch.detectors.station.registry import make_station_detector
from riskwatch.tools.score.cli import register
from riskwatch.tools.score.scoring import parse_timestamp
from tests.unavailable import unavailable

runner = CliRunner()
#: The shared SKAB data beside the repository, or $RISKWATCH_SKAB_DIR (as benchmarks/skab.py reads it).
SKAB = Path(os.environ.get("RISKWATCH_SKAB_DIR") or Path(__file__).resolve().parents[2].parent / "shared" / "data" / "skab")
CHANNELS = ["pressure", "flow", "current"]


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # pragma: no cover - only makes `score` a subcommand
        pass

    return app


def _invoke(*args: str | Path):
    return runner.invoke(_app(), ["score", *map(str, args)])


def _rows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flow = 30 + rng.normal(0, 0.5, n)
    rows = np.column_stack([2 + 0.05 * flow + rng.normal(0, 0.05, n), flow, 1 + rng.normal(0, 0.05, n)])
    rows[int(0.75 * n) : int(0.85 * n), 1] += 5.0
    return rows


def _stamps(n: int) -> list[str]:
    t0 = datetime(2026, 11, 1)
    return [(t0 + timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S") for i in range(n)]


def _write(path: Path, rows: np.ndarray, stamps: list[str] | None = None, sep: str = ",", extra: dict | None = None) -> Path:
    stamps = stamps or _stamps(len(rows))
    extra = extra or {}
    with path.open("w", newline="") as handle:
        out = csv.writer(handle, delimiter=sep)
        out.writerow(["timestamp", *CHANNELS, *extra])
        for i, (t, row) in enumerate(zip(stamps, rows, strict=True)):
            out.writerow([t, *(repr(float(v)) for v in row), *(col[i] for col in extra.values())])
    return path


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_output_is_row_for_row_with_its_header_and_the_detectors_numbers(tmp_path: Path) -> None:
    rows = _rows(900)
    src = _write(tmp_path / "site.csv", rows)
    result = _invoke("--station", "--out", tmp_path / "out", src)
    assert result.exit_code == 0, result.output
    out = _read(tmp_path / "out" / "site.csv")
    assert out[0] == ["timestamp", "anomaly_score", "is_anomaly"]
    assert [r[0] for r in out[1:]] == _stamps(900)
    scores = np.array([float(r[1]) for r in out[1:]])
    flags = np.array([int(r[2]) for r in out[1:]])
    assert ((scores >= 0) & (scores <= 1)).all() and set(flags) <= {0, 1}
    det = make_station_detector("station", CHANNELS)
    want_scores, want_flags = det.score_frame([parse_timestamp(t) for t in _stamps(900)], rows)
    np.testing.assert_array_equal(scores, want_scores)
    np.testing.assert_array_equal(flags.astype(bool), want_flags)
    assert flags[675:765].mean() > 0.8 and flags[400:675].mean() < 0.1  # the shifted flow, found without labels


def test_appending_rows_never_changes_earlier_outputs(tmp_path: Path) -> None:
    rows = _rows(900)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    short = _write(tmp_path / "a" / "s.csv", rows[:700])
    full = _write(tmp_path / "b" / "s.csv", rows)
    assert _invoke("--station", "--out", tmp_path / "o1", short).exit_code == 0
    assert _invoke("--station", "--out", tmp_path / "o2", full).exit_code == 0
    assert _read(tmp_path / "o1" / "s.csv") == _read(tmp_path / "o2" / "s.csv")[:701]


def test_any_numeric_columns_are_channels_and_bad_cells_are_no_reading(tmp_path: Path) -> None:
    """`;`-separated, a text column (ignored), cells that are not numbers, a row without a readable time."""
    rows = _rows(600)
    stamps = _stamps(600)
    stamps[200] = "not a time"
    lines = ["timestamp;pressure;flow;current;label"]
    for i, (t, r) in enumerate(zip(stamps, rows, strict=True)):
        flow = {100: "n/a", 101: "", 102: "inf"}.get(i, repr(float(r[1])))
        lines.append(f"{t};{float(r[0])!r};{flow};{float(r[2])!r};normal")
    src = tmp_path / "semi.csv"
    src.write_text("\n".join(lines) + "\n")
    result = _invoke("--station", "--out", tmp_path / "out", src)
    assert result.exit_code == 0, result.output
    assert "1 row(s)" in result.output
    out = _read(tmp_path / "out" / "semi.csv")
    assert len(out) == 601 and out[201][0] == "not a time" and out[201][1:] == out[200][1:]
    # the same as the detector over the three numeric channels, NaN for the bad cells, without row 200
    want = rows.copy()
    want[100:103, 1] = np.nan
    keep = [i for i in range(600) if i != 200]
    det = make_station_detector("station", CHANNELS)
    scores, _ = det.score_frame([parse_timestamp(stamps[i]) for i in keep], want[keep])
    np.testing.assert_array_equal([float(out[1 + i][1]) for i in keep], scores)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("time,flow\n2026-01-01 00:00:00,1\n", "timestamp"),
        ("timestamp,label\n2026-01-01 00:00:00,high\n", "no numeric columns"),
        ("timestamp\n2026-01-01 00:00:00\n", "no numeric columns"),
        ("", "empty file"),
    ],
)
def test_bad_inputs_fail_the_command_with_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    good = _write(tmp_path / "good.csv", _rows(50))
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    result = _invoke("--station", "--out", tmp_path / "out", good, bad)
    assert result.exit_code == 2
    assert "bad.csv" in result.output and expected in result.output
    assert not (tmp_path / "out" / "good.csv").exists()  # checked before anything is scored


def test_missing_file_and_unknown_detector_exit_2(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.csv", _rows(50))
    missing = _invoke("--station", "--out", tmp_path / "out", tmp_path / "absent.csv")
    assert missing.exit_code == 2 and "absent.csv" in missing.output
    unknown = _invoke("--station", "--detector", "nope", "--out", tmp_path / "out", good)
    assert unknown.exit_code == 2
    assert "unknown station detector 'nope'" in unknown.output and "station_pca" in unknown.output


def test_config_params_reach_the_detector_and_bad_ones_name_the_field(tmp_path: Path) -> None:
    src = _write(tmp_path / "s.csv", _rows(600))
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("detector: station_pca\nparams:\n  warmup: 100\n  windows: [3, 12]\n")
    assert _invoke("--station", "--config", cfg, "--out", tmp_path / "tuned", src).exit_code == 0
    assert _invoke("--station", "--out", tmp_path / "plain", src).exit_code == 0
    tuned = _read(tmp_path / "tuned" / "s.csv")
    assert tuned != _read(tmp_path / "plain" / "s.csv")
    assert float(tuned[150][1]) > 0  # warmed up after 100 rows, not 400
    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  threshold: 2\n")
    result = _invoke("--station", "--config", bad, "--out", tmp_path / "x", src)
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "params.threshold" in result.output and "less than 1" in result.output


def test_default_detector_finds_the_labelled_anomalies_of_real_skab_files(tmp_path: Path) -> None:
    """Two real pump-testbed runs (valve1/0, valve2/0): the first 400 rows train, the rest are scored."""
    if not (SKAB / "valve1").is_dir():
        unavailable(f"SKAB data not found at {SKAB} (set RISKWATCH_SKAB_DIR)")
    truth: dict[str, np.ndarray] = {}
    inputs = []
    for group in ("valve1", "valve2"):
        with (SKAB / group / "0.csv").open(newline="") as handle:
            table = list(csv.reader(handle, delimiter=";"))
        header = ["timestamp" if h == "datetime" else h for h in table[0][:-2]]
        path = tmp_path / f"{group}.csv"
        with path.open("w", newline="") as handle:
            csv.writer(handle).writerows([header, *(r[:-2] for r in table[1:])])
        truth[path.name] = np.array([float(r[-2]) > 0 for r in table[1:]])
        inputs.append(path)
    result = _invoke("--station", "--out", tmp_path / "out", *inputs)
    assert result.exit_code == 0, result.output
    tp = fp = fn = 0
    for name, labels in truth.items():
        flags = np.array([r[2] == "1" for r in _read(tmp_path / "out" / name)[1:]])[400:]
        y = labels[400:]
        tp += int((flags & y).sum())
        fp += int((flags & ~y).sum())
        fn += int((~flags & y).sum())
    f1 = 2 * tp / (2 * tp + fp + fn)
    # a modest floor (the benchmark over all 34 files is benchmarks/station_skab.py): it finds a good part
    # of the labelled episodes, and its alarms are mostly inside them
    assert f1 > 0.4, (tp, fp, fn)
    assert tp / (tp + fp) > 0.7, (tp, fp, fn)

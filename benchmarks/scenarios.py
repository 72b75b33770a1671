"""Every shipped `bench_*` scenario through the back-test, scored per detector and for the pipeline.

Each scenario is simulated, replayed through the whole offline pipeline with the config, and its
warnings and signals matched to the ground truth exactly as `riskwatch backtest` does (same
street or district, same category group, first seen within [start, end + 1 h]). Printed:

* one line per scenario (events, events/s of the whole pipeline, incidents detected, false warnings);
* one table over all scenarios: for the pipeline's warnings, for each configured detector's
  signals, and for all `health` signals (stuck sensors) — detection rate, median and p90 delay,
  false warnings (signals) and false warnings per district per day, and events/s;
* events/s per detector: each detector is built afresh and its `observe` timed alone on the
  same admitted event stream (`ev/s` = events of the stream per second of that detector, so
  detectors are comparable; the pipeline row is the whole pipeline, normalization included).

Usage::

    python benchmarks/scenarios.py                      # the shipped config
    python benchmarks/scenarios.py --config-dir DIR     # another config directory
    python benchmarks/scenarios.py --out DIR            # also DIR/report.html with plots
    python benchmarks/scenarios.py -s bench_mixed       # only some scenarios
    python benchmarks/scenarios.py --json               # metrics as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

from riskwatch.config.loader import CityConfig, load_city_config
from riskwatch.contracts import Event
from riskwatch.detectors.registry import build_detectors
from riskwatch.simulator.scenario import builtin_scenarios
from riskwatch.tools.backtest.report import scenario_report_html, write_report
from riskwatch.tools.backtest.runner import run_scenario
from riskwatch.tools.backtest.scoring import ScenarioReport, overall, score_run
from riskwatch.tools.backtest.tables import SCORE_HEADERS, format_table, score_rows
from riskwatch.tools.backtest.truth import HEALTH, PIPELINE


def time_detectors(config: CityConfig, events: list[Event]) -> dict[str, tuple[int, float]]:
    """Per configured detector: (events offered, seconds) of `accepts` + `observe` alone on the stream."""
    out: dict[str, tuple[int, float]] = {}
    for detector in build_detectors(config.detectors, config.taxonomy, config.stations):
        started = time.perf_counter()
        for event in events:
            if detector.accepts(event):
                detector.observe(event)
        out[detector.name] = (len(events), time.perf_counter() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-s", "--scenario", action="append", help="Scenario name (default: every bench_* scenario)")
    parser.add_argument("--config-dir", type=Path, default=None, help="Config directory (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=None, help="Write simulated files and report.html here")
    parser.add_argument("--tolerance", type=float, default=60.0, help="Minutes after an incident's end that still match")
    parser.add_argument("--json", action="store_true", help="Print the metrics as JSON")
    args = parser.parse_args(argv)

    config = load_city_config(args.config_dir)
    names = args.scenario or [n for n in builtin_scenarios() if n.startswith("bench_")]
    tolerance = timedelta(minutes=args.tolerance)
    reports: list[ScenarioReport] = []
    timings: dict[str, list[float]] = {}
    for name in names:
        run = run_scenario(name, config, args.out, keep_events=True)
        report = score_run(run, config, tolerance)
        reports.append(report)
        for det, (n, seconds) in time_detectors(config, run.admitted).items():
            acc = timings.setdefault(det, [0.0, 0.0])
            acc[0] += n
            acc[1] += seconds
        run.admitted.clear()
        p = report.pipeline.score
        if not args.json:
            print(f"{name}: {run.events:,} events, {run.days:.1f} days, pipeline {run.events_per_s:,.0f} ev/s; "
                  f"warnings: {p.detected}/{p.incidents} incidents, {p.false} false; "
                  f"health: {report.health.score.detected}/{report.health.score.incidents}", flush=True)
    total = overall(reports)
    speeds = {name: n / s for name, (n, s) in timings.items() if s > 0}
    speeds[PIPELINE] = total["events_per_s"]
    if args.json:
        print(json.dumps({
            "scenarios": [r.as_dict() for r in reports],
            "overall": {PIPELINE: total[PIPELINE].as_dict(), HEALTH: total[HEALTH].as_dict(),
                        "detectors": {k: v.as_dict() for k, v in total["detectors"].items()},
                        "events": total["events"], "events_per_s": speeds},
        }, ensure_ascii=False, indent=2))
    else:
        print()
        print(format_table([*SCORE_HEADERS, "ev/s"], score_rows(total[PIPELINE], total["detectors"], total[HEALTH], speeds)))
    if args.out is not None:
        path = write_report(args.out, scenario_report_html(reports, config, tolerance))
        print(f"report: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do quiet days stay quiet? False warnings of incident-free days, and what incidents cost.

Every quiet scenario (`quiet_day`, `bench_quiet`: no incident, so every warning is false) is
simulated over several seeds and replayed through the whole offline pipeline, exactly as
`riskwatch backtest` does. Two starts:

* `cold`: no history at all, as a worker that has just been deployed;
* `warm`: the detectors first see `--history-days` ordinary days before the scenario (12345 and
  110 reports; sensor readings over the last `--sensor-days`), built by `simulator.history`
  from the scenario's own background, ungraded, as a worker restored from its state.

Printed: false warnings per district per day by level and the detectors (and rules) that raised
them, per start and scenario. The labelled incident scenarios (`water_main_burst`, `gas_leak`
and every `bench_*` with incidents) run over the same seeds and starts, so a change that
silences quiet days can be seen not to lose incidents: incidents detected (%), median and p90
delay, and false warnings per district per day around them. The goals are checked at the end.

A seed replaces the scenario's own: `--seeds 0` is the shipped seed, seed k > 0 is the shipped
seed + k · 7919 (another day of the same city). Hold some seeds out when tuning and check on them.

Usage::

    python benchmarks/quiet_days.py                          # seeds 0-4, cold and warm, 2 jobs
    python benchmarks/quiet_days.py --seeds 5 6 7 8 9        # held-out seeds
    python benchmarks/quiet_days.py --start cold --quiet-only
    python benchmarks/quiet_days.py --json                   # the figures as JSON
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Level
from riskwatch.simulator.scenario import builtin_scenarios, load_scenario
from riskwatch.tools.backtest.scoring import score_run

QUIET = ("quiet_day", "bench_quiet")
SEED_STEP = 7919
LEVELS = [lv.value for lv in sorted(Level, key=lambda lv: lv.rank, reverse=True)]  # I, II, III, IV

#: The goals this measurement reports against.
GOAL_QUIET_FALSE = 0.1  # false warnings per district per day on quiet days
GOAL_DETECTED = 0.95  # of incidents
GOAL_DELAY_MIN = 10.0  # median detection delay, minutes
GOAL_INCIDENT_FALSE = 0.2  # false warnings per district per day in incident scenarios


@dataclass
class Outcome:
    """One scenario, seed and start through the pipeline, reduced to what the tables need."""

    scenario: str
    seed: int
    start: str
    district_days: float
    incidents: int
    detected: int
    delays: list[float] = field(default_factory=list)  # seconds, one per detected incident
    #: Every false warning: (highest level, the detectors and rules of its first message, district).
    false: list[tuple[str, str, str]] = field(default_factory=list)
    #: Incidents no warning matched, by kind.
    missed: list[str] = field(default_factory=list)
    #: Per detected incident: (kind, delay in seconds).
    delay_by_kind: list[tuple[str, float]] = field(default_factory=list)


def incident_scenarios() -> list[str]:
    """The shipped scenarios labelled with incidents: every one but the quiet ones."""
    names = [
        n for n in builtin_scenarios() if n not in QUIET and (n.startswith("bench_") or n in ("water_main_burst", "gas_leak"))
    ]
    return sorted(names)


def seeded(base: int, k: int) -> int:
    """Seed k of a scenario whose shipped seed is `base` (k = 0: the shipped seed)."""
    return base + k * SEED_STEP


def run_one(
    name: str, k: int, start: str, history_days: int, sensor_days: int, config_dir: Path | None, tolerance_min: float
) -> Outcome:
    """Simulate scenario `name` with seed k, replay it (warm or cold) and score it."""
    from riskwatch.simulator.history import history_messages
    from riskwatch.simulator.sinks import write_files
    from riskwatch.tools.backtest.runner import run_recorded

    config = load_city_config(config_dir)
    base = load_scenario(name, config)
    scenario = base.model_copy(update={"seed": seeded(base.seed, k)})
    history: list[tuple[Any, bytes]] = []
    if start == "warm":
        history = [(m.source, m.value) for m in history_messages(scenario, config, history_days, sensor_days)]
    with tempfile.TemporaryDirectory(prefix="riskwatch-quiet-") as tmp:
        write_files(scenario, tmp, city=config)
        run = run_recorded(tmp, config, progress=False, name=name, history=history)
    report = score_run(run, config, timedelta(minutes=tolerance_min))
    by_id = {s.signal_id: s for s in run.signals}
    first: dict[str, Any] = {}
    for warning in run.warnings:
        if warning.warning_id not in first or warning.version < first[warning.warning_id].version:
            first[warning.warning_id] = warning
    false = []
    for det in report.pipeline.false:
        sources = sorted({_origin(by_id.get(s.signal_id), s.detector) for s in first[det.ref].signals})
        false.append((det.level or "?", "+".join(sources), det.district))
    score = report.pipeline.score
    events = [i for i in run.incidents if not i.health]
    missed = [i.kind for i in events if i.id not in report.pipeline.first]
    by_kind = [
        (i.kind, (report.pipeline.first[i.id].at - i.start).total_seconds()) for i in events if i.id in report.pipeline.first
    ]
    return Outcome(
        name, k, start, score.district_days, score.incidents, score.detected, list(score.delays), false, missed, by_kind
    )


def _origin(signal: Any, detector: str) -> str:
    """A signal's detector, with the rule it fired for a hard rule: `rules/gas_leak_reported_to_110`."""
    rule = getattr(signal, "hard_rule", None)
    return f"{detector}/{rule}" if rule and rule != detector and detector == "rules" else detector


# ----------------------------------------------------------------------------- tables


def _rate(count: float, district_days: float) -> float:
    return count / district_days if district_days else 0.0


def origin_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """False warnings by the detectors (and rules) of their first message, per start and scenario."""
    lines = []
    for (start, scenario), group in _grouped(outcomes).items():
        days = sum(o.district_days for o in group)
        origins = Counter(f[1] for o in group for f in o.false)
        what = ", ".join(f"{k} {v} ({_rate(v, days):.3f})" for k, v in origins.most_common()) or "none"
        lines.append(f"  {start:<5} {scenario:<20} {what}")
    return lines


def kind_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """Per start and incident kind: detected, and the median delay in minutes."""
    lines = []
    for start in sorted({o.start for o in outcomes}):
        group = [o for o in outcomes if o.start == start]
        delays: dict[str, list[float]] = defaultdict(list)
        for o in group:
            for kind, seconds in o.delay_by_kind:
                delays[kind].append(seconds / 60)
        missed = Counter(kind for o in group for kind in o.missed)
        for kind in sorted(set(delays) | set(missed)):
            found = len(delays[kind])
            median = f"{statistics.median(delays[kind]):.1f}m" if found else "-"
            lines.append(f"  {start:<5} {kind:<20} {found}/{found + missed[kind]} detected, median delay {median}")
    return lines


def quiet_table(outcomes: Sequence[Outcome]) -> list[str]:
    """False warnings per district per day by level and by origin, per start and scenario."""
    lines = []
    header = f"{'start':<5} {'scenario':<12} {'seeds':>5} {'d·days':>7} {'false':>5} {'/d·day':>7} " + " ".join(
        f"{lv:>6}" for lv in LEVELS
    )
    lines.append(header)
    for (start, scenario), group in _grouped(outcomes).items():
        days = sum(o.district_days for o in group)
        false = [f for o in group for f in o.false]
        levels = Counter(f[0] for f in false)
        per_level = " ".join(f"{_rate(levels[lv], days):>6.3f}" for lv in LEVELS)
        lines.append(
            f"{start:<5} {scenario:<12} {len(group):>5} {days:>7.1f} {len(false):>5} {_rate(len(false), days):>7.3f} {per_level}"
        )
    lines.append("")
    lines.append("false warnings by origin (first message's detectors; per district per day):")
    lines += origin_lines(outcomes)
    lines.append("")
    lines.append("per seed (false warnings per district per day):")
    for (start, scenario), group in _grouped(outcomes).items():
        per_seed = " ".join(f"{o.seed}:{_rate(len(o.false), o.district_days):.3f}" for o in sorted(group, key=lambda o: o.seed))
        lines.append(f"  {start:<5} {scenario:<12} {per_seed}")
    return lines


def incident_table(outcomes: Sequence[Outcome]) -> list[str]:
    """Incidents detected, delays and false warnings per start and scenario."""
    lines = [
        f"{'start':<5} {'scenario':<20} {'seeds':>5} {'detected':>9} {'%':>6} {'median':>7} {'p90':>7} {'false':>5} {'/d·day':>7}"
    ]
    for (start, scenario), group in _grouped(outcomes).items():
        lines.append(_incident_line(start, scenario, group))
    for start in sorted({o.start for o in outcomes}):
        lines.append(_incident_line(start, "all", [o for o in outcomes if o.start == start]))
    lines += ["", "by incident kind:", *kind_lines(outcomes)]
    lines += ["", "false warnings by origin (first message's detectors; per district per day):", *origin_lines(outcomes)]
    return lines


def _incident_line(start: str, scenario: str, group: Sequence[Outcome]) -> str:
    s = summary(group)
    median = "-" if s["median_delay_min"] is None else f"{s['median_delay_min']:.1f}m"
    p90 = "-" if s["p90_delay_min"] is None else f"{s['p90_delay_min']:.1f}m"
    return (
        f"{start:<5} {scenario:<20} {len(group):>5} {s['detected']:>4}/{s['incidents']:<4} {s['detected_pct']:>6.1f} "
        f"{median:>7} {p90:>7} {s['false']:>5} {s['false_per_district_day']:>7.3f}"
    )


def summary(group: Sequence[Outcome]) -> dict[str, Any]:
    """Totals over outcomes: incidents, detected (%), delays (minutes), false warnings per district per day."""
    incidents = sum(o.incidents for o in group)
    detected = sum(o.detected for o in group)
    delays = sorted(d / 60 for o in group for d in o.delays)
    days = sum(o.district_days for o in group)
    false = sum(len(o.false) for o in group)
    return {
        "incidents": incidents,
        "detected": detected,
        "detected_pct": 100.0 * detected / incidents if incidents else 100.0,
        "median_delay_min": statistics.median(delays) if delays else None,
        "p90_delay_min": delays[min(len(delays) - 1, int(0.9 * len(delays)))] if delays else None,
        "false": false,
        "false_per_district_day": _rate(false, days),
    }


def goal_lines(quiet: Sequence[Outcome], incidents: Sequence[Outcome]) -> list[str]:
    """Each goal, per start, met or not."""
    lines = []
    for start in sorted({o.start for o in [*quiet, *incidents]}):
        q = summary([o for o in quiet if o.start == start])
        i = summary([o for o in incidents if o.start == start])
        checks = []
        if any(o.start == start for o in quiet):
            checks.append(
                (
                    f"quiet days {q['false_per_district_day']:.3f} false/district/day ≤ {GOAL_QUIET_FALSE}",
                    q["false_per_district_day"] <= GOAL_QUIET_FALSE,
                )
            )
        if any(o.start == start for o in incidents):
            delay = i["median_delay_min"]
            checks += [
                (f"incidents detected {i['detected_pct']:.1f}% ≥ {GOAL_DETECTED:.0%}", i["detected_pct"] >= 100 * GOAL_DETECTED),
                (
                    f"median delay {'-' if delay is None else f'{delay:.1f}'} min ≤ {GOAL_DELAY_MIN:g}",
                    delay is not None and delay <= GOAL_DELAY_MIN,
                ),
                (
                    f"incident scenarios {i['false_per_district_day']:.3f} false/district/day ≤ {GOAL_INCIDENT_FALSE}",
                    i["false_per_district_day"] <= GOAL_INCIDENT_FALSE,
                ),
            ]
        lines += [f"  [{'ok' if ok else 'MISSED'}] {start}: {text}" for text, ok in checks]
    return lines


def _grouped(outcomes: Sequence[Outcome]) -> dict[tuple[str, str], list[Outcome]]:
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in sorted(outcomes, key=lambda o: (o.start, o.scenario, o.seed)):
        groups[(o.start, o.scenario)].append(o)
    return dict(groups)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="Seed numbers (0: the shipped seed)")
    parser.add_argument(
        "--start", choices=["cold", "warm", "both"], default="both", help="Replay with no history, after history, or both"
    )
    parser.add_argument("--history-days", type=int, default=2, help="Days of 12345/110 history before a warm replay")
    parser.add_argument("--sensor-days", type=int, default=2, help="Days of sensor history before a warm replay")
    parser.add_argument("--quiet-only", action="store_true", help="Skip the incident scenarios")
    parser.add_argument("-s", "--scenario", action="append", help="Only these scenarios (quiet or labelled)")
    parser.add_argument("--config-dir", type=Path, default=None, help="Config directory (default: the shipped one)")
    parser.add_argument("--tolerance", type=float, default=60.0, help="Minutes after an incident's end that still match")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="Replays run in parallel")
    parser.add_argument("--json", action="store_true", help="Print the outcomes and summaries as JSON")
    args = parser.parse_args(argv)

    starts = ["cold", "warm"] if args.start == "both" else [args.start]
    quiet_names = [n for n in QUIET if not args.scenario or n in args.scenario]
    labelled = [] if args.quiet_only else [n for n in incident_scenarios() if not args.scenario or n in args.scenario]
    jobs = [(n, k, s) for s in starts for n in [*quiet_names, *labelled] for k in args.seeds]
    outcomes: list[Outcome] = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [
            pool.submit(run_one, n, k, s, args.history_days, args.sensor_days, args.config_dir, args.tolerance)
            for n, k, s in jobs
        ]
        for (n, k, s), future in zip(jobs, futures, strict=True):
            outcome = future.result()
            outcomes.append(outcome)
            if not args.json:
                print(
                    f"{s:<5} {n:<20} seed {k}: {len(outcome.false)} false, {outcome.detected}/{outcome.incidents} incidents",
                    file=sys.stderr,
                    flush=True,
                )
    quiet = [o for o in outcomes if o.scenario in QUIET]
    incidents = [o for o in outcomes if o.scenario not in QUIET]
    if args.json:
        print(
            json.dumps(
                {
                    "seeds": args.seeds,
                    "starts": starts,
                    "history_days": args.history_days,
                    "sensor_days": args.sensor_days,
                    "quiet": {s: summary([o for o in quiet if o.start == s]) for s in starts},
                    "incidents": {s: summary([o for o in incidents if o.start == s]) for s in starts},
                    "outcomes": [asdict(o) for o in outcomes],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print(f"seeds {args.seeds}; warm = {args.history_days} d of reports, {args.sensor_days} d of sensor readings first")
    if quiet:
        print("\nquiet days: false warnings per district per day, by level")
        print("\n".join(quiet_table(quiet)))
    if incidents:
        print("\nincident scenarios")
        print("\n".join(incident_table(incidents)))
    print("\ngoals")
    print("\n".join(goal_lines(quiet, incidents)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

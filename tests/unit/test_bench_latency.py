"""The latency phase's pure parts: percentiles, matching warnings to raw sends, the input window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from riskwatch.contracts import Level, MsgType, Signal, SignalKind, SignalSummary, Source, Warning
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import Outgoing
from riskwatch.tools.bench_latency import LatencyStats, match, shifted_after, window

AT = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


@dataclass
class Record:
    value: bytes
    timestamp: int


def _signal(signal_id: str, evidence: tuple[str, ...]) -> Signal:
    return Signal(signal_id=signal_id, detector="alarm_limits", kind=SignalKind.threshold, source=Source.sensor,
                  region_code="410104002", district_code="410104", category="gas_supply", at=AT, score=0.9,
                  observed=1.0, reason="over the limit", evidence=evidence)


def _warning(msg_type: MsgType, signal_ids: list[str], version: int = 1) -> Warning:
    summaries = tuple(SignalSummary(signal_id=s, detector="alarm_limits", kind=SignalKind.threshold,
                                    source=Source.sensor, region_code="410104002", at=AT, score=0.9, observed=1.0,
                                    expected=None, reason="over the limit") for s in signal_ids)
    return Warning(warning_id="w1", version=version, msg_type=msg_type, level=Level.II, region_code="410104002",
                   region_name="西大街街道", district_code="410104", category="gas_supply", category_name="供气",
                   title="t", first_seen=AT, updated_at=AT, score=0.9, sources=(Source.sensor,), explanation=(),
                   signals=summaries)


def test_stats_are_nearest_rank_figures_that_were_measured() -> None:
    stats = LatencyStats.of([float(v) for v in range(100, 0, -1)])
    assert (stats.count, stats.p50_ms, stats.p99_ms, stats.max_ms) == (100, 50.0, 99.0, 100.0)
    assert LatencyStats.of([]).count == 0 and LatencyStats.of([]).p50_ms is None
    assert LatencyStats.of([7.0]).p99_ms == 7.0


def test_match_times_each_alert_or_update_from_its_newest_evidence_send() -> None:
    signals = [Record(_signal("s1", ("e1", "e2")).model_dump_json().encode(), 0),
               Record(_signal("s2", ("e3",)).model_dump_json().encode(), 0),
               Record(_signal("old", ("e-earlier-run",)).model_dump_json().encode(), 0)]
    sent = {"e1": 1_000, "e2": 1_500, "e3": 4_000}
    warnings = [
        Record(_warning(MsgType.alert, ["s1"]).model_dump_json().encode(), 1_800),  # newest evidence e2: 300
        Record(_warning(MsgType.update, ["s1", "s2"], 2).model_dump_json().encode(), 4_250),  # e3: 250
        Record(_warning(MsgType.cancel, ["s1", "s2"], 3).model_dump_json().encode(), 9_000),
        Record(_warning(MsgType.update, ["old"], 4).model_dump_json().encode(), 9_500),
        Record(b"not a warning", 9_999),
    ]
    found = match(warnings, signals, sent)
    assert found.samples_ms == [300.0, 250.0]
    assert (found.total, found.cancels, found.unmatched) == (4, 1, 1)


def test_window_starts_a_quarter_before_the_first_incident_and_the_shift_lands_after() -> None:
    scenario = load_scenario("gas_leak")
    incident = scenario.incidents[0].start
    items = [Outgoing("riskwatch.raw.sensor", None, b"{}", Source.sensor, t, t)
             for t in (scenario.start + timedelta(minutes=m) for m in range(600))]
    chosen = window(items, scenario, 40)
    assert len(chosen) == 40 and chosen[10].arrival_time == incident
    assert window(items, scenario, 1000) == items
    later = shifted_after(scenario, scenario.start + timedelta(days=2, hours=3))
    assert later.start == scenario.start + timedelta(days=3)
    assert later.incidents[0].start - later.start == incident - scenario.start

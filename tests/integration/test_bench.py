"""`riskwatch bench` on its own embedded broker: both workers consume every record, rates come out.

The session's real-Kafka fixture is shared with tests that write the fixed riskwatch topics,
and the bench needs empty ones, so this test starts its own in-memory Tansu broker.
No timing is asserted: only that both runs finished and measured something, and that the
latency phase matched warnings to the raw records behind them and saw them in the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from riskwatch.simulator.scenario import load_scenario
from riskwatch.tools.bench import BenchError, LatencyOptions, bench_input, format_table, run_bench
from riskwatch.tools.embedded_broker import EmbeddedBroker

pytestmark = pytest.mark.integration

N = 3000


@pytest.fixture
def embedded() -> Iterator[str]:
    broker = EmbeddedBroker()
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def test_bench_input_repeats_the_scenario_with_distinct_ids() -> None:
    scenario = load_scenario("quiet_day")
    one, copies = bench_input(scenario, 1)
    assert copies == 1 and len(one) == 1
    items, copies = bench_input(scenario, 20_000)  # quiet_day sends ~12k messages a day
    assert len(items) == 20_000 and copies == 2
    keyed = [(item.topic, item.key, item.event_time) for item in items]
    assert len(set(keyed)) == len(keyed)
    police = [item.key for item in items if item.topic.endswith("police")]
    assert len(set(police)) == len(police)


def test_bench_measures_bare_and_pipeline_on_the_same_input(embedded: str, tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_bench(embedded, f"embedded Tansu at {embedded}", events=N, partitions=2,
                       emit=lines.append, work_dir=tmp_path, timeout_s=300,
                       latency=LatencyOptions(scenario="gas_leak", seconds=20))
    assert result.events == N and result.partitions == 2
    for run in (result.bare, result.pipeline):
        assert run.consumed == N, run
        assert run.events_per_s > 0 and run.seconds > 0 and 0 < run.window_records <= N
    outputs = result.pipeline.outputs
    assert outputs["events"] > 0 and outputs["events"] + outputs["deadletter"] >= N
    assert result.ratio > 0
    table = format_table(result)
    assert "bare events/s" in table and "ratio pipeline/bare" in table
    assert (tmp_path / "bare" / "worker.log").exists() and (tmp_path / "pipeline" / "warnings.db").exists()

    latency = result.latency
    assert latency is not None and latency.scenario == "gas_leak" and latency.messages > 1
    # the gas leak's readings over the alarm limit raise warnings whose evidence was sent in this phase
    timed = latency.event_to_warning
    assert timed.count > 0 and timed.count == latency.warning_messages - latency.cancels - latency.unmatched
    assert timed.p50_ms is not None and timed.p99_ms is not None and timed.max_ms is not None
    assert timed.p50_ms <= timed.p99_ms <= timed.max_ms
    stored = latency.warning_to_store
    assert 0 < stored.count <= latency.warning_messages and stored.count + latency.store_unseen >= 1
    assert "event → warning" in table and "warning → store" in table
    assert result.as_dict()["latency"]["event_to_warning"]["count"] == timed.count

    with pytest.raises(BenchError, match="not fresh"):  # the raw topics now hold the input
        run_bench(embedded, "again", events=10, partitions=2, work_dir=tmp_path / "again")


def test_two_pipeline_workers_share_the_input(embedded: str, tmp_path: Path) -> None:
    result = run_bench(embedded, f"embedded Tansu at {embedded}", events=N, partitions=2, emit=lambda _: None,
                       work_dir=tmp_path, timeout_s=300, workers=2)
    assert result.pipeline.workers == 2 and result.pipeline.consumed == N
    assert result.pipeline.events_per_s > 0
    assert result.pipeline.outputs["events"] + result.pipeline.outputs["deadletter"] >= N
    assert "pipeline events/s (2 workers)" in format_table(result)
    stores = {p.name for p in (tmp_path / "pipeline").iterdir()}
    assert {"worker0", "worker1", "warnings.db"} <= stores  # one data dir each, one store


def test_the_bench_refuses_more_workers_than_partitions(embedded: str, tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="3 workers cannot share 2 partition"):
        run_bench(embedded, "embedded", events=10, partitions=2, work_dir=tmp_path, workers=3)

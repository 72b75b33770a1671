"""The raw topics' key check on hand-built records: keys, scatter, findings and the command's exits."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from riskwatch.contracts import Source
from riskwatch.contracts.topics import RAW_SENSOR
from riskwatch.streams.key_check import NATURAL_KEY, CheckReport, SampledRecord, TopicSample, analyse
from riskwatch.streams.key_sample import DEFAULT_PER_PARTITION
from riskwatch.tools import check_cli
from riskwatch.tools.cli import app


def _reading(device: str, n: int) -> bytes:
    return json.dumps({"device_id": device, "metric": "pressure", "value": 0.3 + n / 100, "unit": "MPa",
                       "ts": f"2026-11-23T08:{n:02d}:00+08:00", "lat": 34.75, "lon": 113.66}).encode()


def _order(order: str, street: str | None) -> bytes:
    return json.dumps({"order_id": order, "street_code": street, "content": "停水"}).encode()


def _sample(records: list[tuple[int, bytes | None, bytes | None]], partitions: int = 3) -> TopicSample:
    return TopicSample(
        topic=RAW_SENSOR.name, partitions=partitions,
        records=[SampledRecord(partition=p, offset=i, key=k, value=v) for i, (p, k, v) in enumerate(records)],
    )


def test_readings_keyed_by_device_are_clean() -> None:
    home = {"WS-1": 0, "WS-2": 2, "WS-3": 0}
    records = [(home[d], d.encode(), _reading(d, n)) for d in home for n in range(5)]
    findings = analyse(Source.sensor, _sample(records))
    assert findings.ok
    assert (findings.records, findings.unkeyed, findings.keyed_natural, findings.keyed_other) == (15, 0, 15, 0)
    assert (findings.natural_keys, findings.scattered, findings.max_spread) == (3, 0, 1)
    assert findings.lines("problem", "note") == []


def test_unkeyed_readings_round_robin_scatter_devices() -> None:
    records = [(n % 3, None, _reading(d, n)) for d in ("WS-1", "WS-2") for n in range(6)]
    records.append((0, None, _reading("WS-9", 0)))  # one reading: in one partition
    findings = analyse(Source.sensor, _sample(records))
    assert not findings.ok
    assert findings.unkeyed == 13 and findings.unkeyed_share == 1.0
    assert findings.scattered == 2 and findings.natural_keys == 3 and findings.max_spread == 3
    assert [(e.key, e.partitions) for e in findings.scattered_examples] == [
        ("WS-1", {0: 2, 1: 2, 2: 2}), ("WS-2", {0: 2, 1: 2, 2: 2})]
    problems = findings.lines("problem")
    assert len(problems) == 2
    assert problems[0].startswith("13 of 13 records (100%) have no key") and "key = device_id" in problems[0]
    assert "2 of 3 devices appear in more than one partition" in problems[1]
    assert "WS-1 in partitions 0, 1, 2 (2/2/2 readings)" in problems[1] and "WS-9" not in problems[1]
    assert "spread over up to 3 partitions" in problems[1] and "out of order" in problems[1]


def test_a_gateway_key_that_moves_scatters_devices_and_is_named() -> None:
    # two gateways take turns; each device's readings follow whichever gateway sent them
    records = [(n % 2, f"gw-{n % 2}".encode(), _reading("WS-7", n)) for n in range(4)]
    findings = analyse(Source.sensor, _sample(records, partitions=2))
    assert not findings.ok and findings.unkeyed == 0 and findings.keyed_other == 4
    assert [e.key for e in findings.scattered_examples] == ["WS-7"]
    note = findings.lines("note")
    assert len(note) == 1 and "key 'gw-0' on device 'WS-7'" in note[0]


def test_a_foreign_key_that_keeps_each_device_together_is_only_a_note() -> None:
    records = [(0, b"gw-A", _reading("WS-1", n)) for n in range(3)] + [(1, b"gw-B", _reading("WS-2", n)) for n in range(3)]
    findings = analyse(Source.sensor, _sample(records, partitions=2))
    assert findings.ok and findings.keyed_other == 6 and findings.scattered == 0
    assert findings.lines("problem") == [] and len(findings.lines("note")) == 1


def test_json_quoted_keys_count_as_the_natural_key() -> None:
    findings = analyse(Source.sensor, _sample([(0, b'"WS-1"', _reading("WS-1", 0)), (0, b"WS-1", _reading("WS-1", 1))]))
    assert findings.keyed_natural == 2 and findings.keyed_other == 0


def test_some_unkeyed_records_are_a_problem_even_without_scatter() -> None:
    records = [(0, b"WS-1", _reading("WS-1", n)) for n in range(199)] + [(0, None, _reading("WS-1", 99))]
    findings = analyse(Source.sensor, _sample(records))
    assert not findings.ok and findings.scattered == 0
    assert findings.lines("problem") == [
        ("1 of 200 records (0.5%) have no key: the producer spreads them over the partitions, so one device's "
         "readings do not stay together; produce with key = device_id")]


def test_unkeyed_on_one_partition_says_nothing_is_out_of_order_yet() -> None:
    findings = analyse(Source.sensor, _sample([(0, None, _reading("WS-1", n)) for n in range(3)], partitions=1))
    assert not findings.ok
    assert "with 1 partition nothing is out of order yet" in findings.lines("problem")[0]


def test_unreadable_values_are_left_out_of_the_judgement() -> None:
    records = [(0, b"WS-1", _reading("WS-1", 0)), (1, b"WS-1", b"\xff\xfe not json"), (2, b"x", b'{"metric": "p"}'),
               (2, b"WS-1", None)]
    findings = analyse(Source.sensor, _sample(records))
    assert findings.ok and findings.unreadable == 3 and findings.scattered == 0 and findings.keyed_natural == 1
    assert any("3 records without a readable device_id" in line for line in findings.lines("info"))


def test_hotline_orders_keyed_by_order_id_spread_streets_only_as_information() -> None:
    records = [(i % 3, f"GD-{i}".encode(), _order(f"GD-{i}", "410105002")) for i in range(6)]
    findings = analyse(Source.hotline, _sample(records))
    assert findings.ok and findings.natural_key == "order_id" and findings.scattered == 0
    assert (findings.info_grouping, findings.info_groups, findings.info_groups_scattered) == ("street_code", 1, 1)
    assert findings.lines("problem", "note") == []
    assert any("1 of 1 streets have orders in more than one partition" in line for line in findings.lines("info"))


def test_hotline_re_sends_of_an_order_in_two_partitions_are_scattered() -> None:
    records = [(0, None, _order("GD-1", "410105002")), (1, None, _order("GD-1", "410105002")),
               (1, None, _order("GD-2", None))]
    findings = analyse(Source.hotline, _sample(records))
    assert not findings.ok and findings.unkeyed == 3 and findings.scattered == 1
    problems = findings.lines("problem")
    assert "order's sends" in problems[0] and "1 of 2 orders appear in more than one partition" in problems[1]
    assert "An order's sends are spread over up to 2 partitions" in problems[1]


def test_empty_and_missing_topics_are_not_problems() -> None:
    empty = analyse(Source.police, TopicSample(topic="riskwatch.raw.police", partitions=3))
    missing = analyse(Source.police, TopicSample(topic="riskwatch.raw.police", exists=False))
    assert empty.ok and empty.lines() == ["no records to judge"]
    assert missing.ok and "topic missing" in missing.lines("note")[0]
    assert CheckReport(topics=[empty, missing]).ok


def test_an_incomplete_sample_says_so() -> None:
    sample = _sample([(0, b"WS-1", _reading("WS-1", 0))]).model_copy(update={"complete": False})
    assert "sample incomplete" in analyse(Source.sensor, sample).lines("note")[0]


def test_report_is_not_ok_when_one_topic_has_a_problem_and_dumps_to_json() -> None:
    bad = analyse(Source.sensor, _sample([(0, None, _reading("WS-1", 0))]))
    good = analyse(Source.police, TopicSample(topic="riskwatch.raw.police", partitions=3))
    report = CheckReport(topics=[good, bad])
    dumped = json.loads(report.model_dump_json())
    assert dumped["ok"] is False and [t["ok"] for t in dumped["topics"]] == [True, False]
    assert dumped["topics"][1]["unkeyed_share"] == 1.0


def test_the_cli_names_the_sources_and_default_sample_of_the_analysis() -> None:
    assert set(check_cli.SOURCES) == {s.value for s in Source} == {s.value for s in NATURAL_KEY}
    assert check_cli.DEFAULT_SAMPLE == DEFAULT_PER_PARTITION


def test_topic_options_parse_and_refuse_unknown_sources() -> None:
    assert check_cli.parse_topics(["sensor=t.raw.sensor", "hotline"]) == {"sensor": "t.raw.sensor", "hotline": None}
    with pytest.raises(typer.BadParameter, match="not a raw source"):
        check_cli.parse_topics(["gateway"])
    with pytest.raises(typer.BadParameter, match="topic name"):
        check_cli.parse_topics(["sensor="])


def test_check_exits_2_with_a_message_when_the_broker_cannot_be_reached() -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(app, ["check", "--broker", f"127.0.0.1:{port}", "--connect-timeout", "1"])
    assert result.exit_code == 2
    assert f"cannot reach the Kafka broker at 127.0.0.1:{port}" in result.output


def test_the_readme_commands_table_lists_check_and_the_cli_has_it() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "| `riskwatch check [--topic SOURCE[=TOPIC]] [--sample N]` |" in readme
    assert "check" in typer.main.get_command(app).commands  # type: ignore[attr-defined]

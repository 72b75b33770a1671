"""`riskwatch check` and the key warnings of `topics describe` on real brokers.

The gas-leak scenario's sensor readings go to fresh topics of the session's Apache Kafka broker
(`--topic sensor=NAME`), so other tests' records on the fixed raw topics do not mix in: sent
without a key and spread over the partitions by hand, the check names the scattered devices and
exits 1; keyed by device id, it exits 0. `topics describe` reads the fixed topic names, so its
warning is tested on an embedded broker of its own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient
from typer.testing import CliRunner

from riskwatch.contracts import Source
from riskwatch.contracts.topics import RAW_SENSOR
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import load_scenario
from riskwatch.simulator.sinks import Outgoing, encode
from riskwatch.streams import admin
from riskwatch.tools.cli import app
from riskwatch.tools.embedded_broker import EmbeddedBroker

pytestmark = pytest.mark.integration

PARTITIONS = 3
runner = CliRunner()


@pytest.fixture(scope="module")
def readings() -> list[Outgoing]:
    """The gas-leak scenario's sensor sends: readings, re-sends and malformed ones, in arrival order."""
    return [item for item in encode(simulate(load_scenario("gas_leak"))) if item.source is Source.sensor]


def _fresh_topic(bootstrap: str) -> str:
    name = f"rwcheck-{uuid.uuid4().hex[:8]}.raw.sensor"
    client = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        client.create_topics({name: {"num_partitions": PARTITIONS, "replication_factor": 1}})
        client.wait_for_topics([name], timeout_ms=30_000)
    finally:
        client.close()
    return name


def _send(bootstrap: str, topic: str, items: list[Outgoing], keyed: bool) -> dict[int, int]:
    """Send every item (keyed by device id, or unkeyed round-robin); return records per partition."""

    async def run() -> dict[int, int]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            sends = [
                await producer.send(topic, item.value, key=item.key) if keyed
                else await producer.send(topic, item.value, key=None, partition=n % PARTITIONS)
                for n, item in enumerate(items)
            ]
            counts: dict[int, int] = defaultdict(int)
            for metadata in await asyncio.gather(*sends):
                counts[metadata.partition] += 1
            return dict(counts)
        finally:
            await producer.stop()

    return asyncio.run(run())


def _device(item: Outgoing) -> str | None:
    try:
        value = json.loads(item.value)
    except ValueError:
        return None
    return value.get("device_id") if isinstance(value, dict) else None


def _check(bootstrap: str, topic: str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["check", "--broker", bootstrap, "--topic", f"sensor={topic}", "--sample", "5000", *extra])
    return result.exit_code, result.output


def test_unkeyed_readings_spread_over_partitions_fail_the_check(kafka_bootstrap: str, readings: list[Outgoing]) -> None:
    topic = _fresh_topic(kafka_bootstrap)
    assert _send(kafka_bootstrap, topic, readings, keyed=False) == {
        p: len(range(p, len(readings), PARTITIONS)) for p in range(PARTITIONS)}
    partitions_of: dict[str, set[int]] = defaultdict(set)
    for n, item in enumerate(readings):
        if (device := _device(item)) is not None:
            partitions_of[device].add(n % PARTITIONS)
    scattered = {d for d, parts in partitions_of.items() if len(parts) > 1}
    assert len(scattered) > 1

    code, out = _check(kafka_bootstrap, topic, "--json")
    assert code == 1, out
    [found] = json.loads(out)["topics"]
    assert found["topic"] == topic and found["partitions"] == PARTITIONS and found["complete"]
    assert found["records"] == found["unkeyed"] == len(readings)
    assert found["natural_keys"] == len(partitions_of) and found["scattered"] == len(scattered)
    assert found["max_spread"] == PARTITIONS and not found["ok"]

    code, out = _check(kafka_bootstrap, topic)
    assert code == 1, out
    named = [e["key"] for e in found["scattered_examples"]]
    assert named and set(named) <= scattered
    assert all(f"{device} in partitions " in out for device in named)
    assert f"{len(readings)} of {len(readings)} records (100%) have no key" in out
    assert f"{len(scattered)} of {len(partitions_of)} devices appear in more than one partition" in out
    assert "produce with key = device_id" in out and f"check: 1 of 1 raw topics need their producers fixed: {topic}" in out


def test_readings_keyed_by_device_pass_the_check(kafka_bootstrap: str, readings: list[Outgoing]) -> None:
    topic = _fresh_topic(kafka_bootstrap)
    assert sum(_send(kafka_bootstrap, topic, readings, keyed=True).values()) == len(readings)

    code, out = _check(kafka_bootstrap, topic, "--json")
    assert code == 0, out
    [found] = json.loads(out)["topics"]
    valid = sum(1 for item in readings if _device(item) is not None)
    assert (found["records"], found["unkeyed"], found["scattered"]) == (len(readings), 0, 0)
    assert found["keyed_natural"] == valid and found["keyed_other"] == 0 and found["ok"]

    code, out = _check(kafka_bootstrap, topic)
    assert code == 0, out
    assert "ok: every device_id stays in one partition" in out and "PROBLEM" not in out


@pytest.fixture
def embedded() -> Iterator[str]:
    broker = EmbeddedBroker()
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def test_describe_warns_under_an_unkeyed_raw_topic(embedded: str, readings: list[Outgoing]) -> None:
    admin.create_topics(embedded, PARTITIONS, 1)
    _send(embedded, RAW_SENSOR.name, readings[:300], keyed=False)

    result = runner.invoke(app, ["topics", "describe", "--broker", embedded])
    assert result.exit_code == 0, result.output
    sensor_section = result.output.split(RAW_SENSOR.name, 1)[1].split("riskwatch.events", 1)[0]
    assert "key warning: 300 of 300 records (100%) have no key" in sensor_section
    assert "devices appear in more than one partition" in sensor_section
    assert "key warning" not in result.output.split(RAW_SENSOR.name, 1)[0]  # hotline and police are empty

    as_json = runner.invoke(app, ["topics", "describe", "--json", "--broker", embedded])
    assert as_json.exit_code == 0, as_json.output
    by_name = {t["name"]: t for t in json.loads(as_json.output)}
    assert by_name[RAW_SENSOR.name]["key_check"]["unkeyed"] == 300 and not by_name[RAW_SENSOR.name]["key_check"]["ok"]
    assert "key_check" not in by_name["riskwatch.events"]

    skipped = runner.invoke(app, ["topics", "describe", "--key-sample", "0", "--broker", embedded])
    assert skipped.exit_code == 0 and "key warning" not in skipped.output

"""The simulator: deterministic, valid raw records, visible incidents, clear errors."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import get_args

import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from riskwatch.config.loader import ConfigError, load_city_config
from riskwatch.contracts import RAW_MODELS, HotlineRecord, SensorRecord, Source
from riskwatch.contracts.topics import RAW_TOPICS
from riskwatch.simulator import sinks
from riskwatch.simulator.generate import (
    CST,
    INCIDENT_KINDS,
    generate,
    id_check_char,
    is_valid_resident_id,
    simulate,
)
from riskwatch.simulator.scenario import IncidentKind, Scenario, builtin_scenarios, load_scenario
from riskwatch.tools import simulate_cli as cli

ID_RE = re.compile(r"(?<!\d)\d{17}[\dX](?!\d)")


@pytest.fixture(scope="module")
def city():
    return load_city_config()


@pytest.fixture(scope="module")
def burst(city):
    return simulate(load_scenario("water_main_burst", city), city)


@pytest.fixture(scope="module")
def messy(city):
    return simulate(load_scenario("gas_leak", city), city)


def test_builtin_scenarios_load(city) -> None:
    assert {"water_main_burst", "quiet_day", "gas_leak"} <= set(builtin_scenarios())
    for name in builtin_scenarios():
        scenario = load_scenario(name, city)
        assert scenario.start.utcoffset() == timedelta(hours=8)
    assert load_scenario("quiet_day", city).incidents == []


def test_every_kind_has_a_function() -> None:
    assert set(get_args(IncidentKind)) == set(INCIDENT_KINDS)


def test_same_seed_same_output_other_seed_differs(city, burst) -> None:
    scenario = load_scenario("water_main_burst", city)
    again = simulate(scenario, city)
    assert [i.value for i in sinks.encode(again)] == [i.value for i in sinks.encode(burst)]
    assert again.ground_truth_doc() == burst.ground_truth_doc()
    other = simulate(scenario.model_copy(update={"seed": scenario.seed + 1}), city)
    assert [r.record for r in other.records[:50]] != [r.record for r in burst.records[:50]]


def test_generate_yields_event_time_order(city) -> None:
    scenario = load_scenario("water_main_burst", city).model_copy(update={"duration": timedelta(hours=2), "incidents": []})
    times = [t for _, _, t in generate(scenario, city)]
    assert times == sorted(times) and len(times) > 100


def test_every_record_validates_against_its_raw_model(burst, messy) -> None:
    for sim in (burst, messy):
        for item in sinks.encode(sim):
            model = RAW_MODELS[item.source]
            assert item.topic == RAW_TOPICS[item.source].name
            assert b"\n" not in item.value
            if item.kind == "malformed":
                with pytest.raises((ValidationError, ValueError)):
                    model.model_validate_json(item.value)
            else:
                record = model.model_validate_json(item.value)
                assert item.key == getattr(record, {"hotline": "order_id", "police": "incident_id",
                                                     "sensor": "device_id"}[item.source.value]).encode()


def test_ids_phones_and_codes_look_real(burst, city) -> None:
    streets = {s.code for d in city.regions.districts for s in d.streets}
    orders = [r.record for r in burst.records if r.source is Source.hotline]
    assert len({o.order_id for o in orders}) == len(orders)
    for order in orders:
        assert re.fullmatch(r"GD\d{14}", order.order_id)
        assert order.caller_phone is None or re.fullmatch(r"1[3-9]\d{9}", order.caller_phone)
        assert order.street_code is None or order.street_code in streets
    police = [r.record for r in burst.records if r.source is Source.police]
    assert all(p.incident_id.startswith("JJ") for p in police)
    assert {p.type_code for p in police} <= set(city.taxonomy.police_types)
    devices = {r.record.device_id for r in burst.records if r.source is Source.sensor}
    assert "WP-410105002-01" in devices


def test_embedded_resident_ids_have_valid_check_digits(burst) -> None:
    assert id_check_char("11010519491231002") == "X"  # the standard's own example
    assert is_valid_resident_id("11010519491231002X") and not is_valid_resident_id("110105194912310021")
    found = [m for r in burst.records if r.source is Source.hotline for m in ID_RE.findall(r.record.content)]
    assert len(found) >= 5
    assert all(is_valid_resident_id(number) for number in found)


def _water_call_times(sim, street: str, city) -> list:
    keywords = city.taxonomy.category("water_supply").keywords
    return [r.event_time for r in sim.records
            if isinstance(r.record, HotlineRecord) and r.record.street_code == street
            and any(k in r.record.content for k in keywords)]


def test_burst_street_shows_a_hotline_surge(burst, city) -> None:
    incident = burst.scenario.incidents[0]
    times = _water_call_times(burst, incident.street, city)
    hour = timedelta(hours=1)
    first_hour = sum(1 for t in times if incident.start <= t < incident.start + hour)
    assert first_hour >= 15
    t = burst.scenario.start
    while t + hour <= incident.start:  # every hour before the burst: background only
        assert sum(1 for x in times if t <= x < t + hour) <= 2
        t += timedelta(minutes=30)
    truth = burst.ground_truth[0]
    assert truth.records["hotline"] >= 15 and truth.records["police"] >= 3
    assert truth.expected_level == "II" and "water_supply" in truth.expected_categories


def test_burst_pressure_below_critical_in_window_only(burst, city) -> None:
    incident = burst.scenario.incidents[0]
    spec = next(m for m in city.taxonomy.sensor_metrics if m.metric == "water_pressure")
    readings = [(r.event_time, r.record) for r in burst.records
                if isinstance(r.record, SensorRecord) and r.record.metric == "water_pressure"]
    street = [(t, rec) for t, rec in readings if rec.device_id.startswith(f"WP-{incident.street}-")]
    before = [rec.value for t, rec in street if t < incident.start]
    during = [rec.value for t, rec in street
              if incident.start + timedelta(minutes=15) <= t < incident.end - timedelta(minutes=35)]
    assert before and min(before) > spec.alarm_low
    assert during and max(during) < spec.critical_low
    elsewhere = [rec.value for t, rec in readings if not rec.device_id.startswith(f"WP-{incident.street}-")]
    assert min(elsewhere) > spec.alarm_low


def test_gas_leak_crosses_critical_and_realism_faults(messy, city) -> None:
    incident = messy.scenario.incidents[0]
    gas = [r.record.value for r in messy.records if r.incident == incident.id and r.source is Source.sensor]
    assert max(gas) > 50.0
    items = sinks.encode(messy)
    kinds = Counter(i.kind for i in items)
    assert kinds["malformed"] > 0 and kinds["duplicate"] > 0
    originals = {(i.key, i.value) for i in items if i.kind == "record"}
    assert all((i.key, i.value) in originals for i in items if i.kind == "duplicate")
    late = [i for i in items if i.late and i.kind == "record"]
    assert late and all(timedelta(0) < i.arrival_time - i.event_time < timedelta(hours=2) for i in late)
    # arrival order differs from event order: a flushed reading follows later-event readings
    position = {id(i): n for n, i in enumerate(items)}
    on_time_after = [j for j in items if j.kind == "record" and not j.late and j.event_time > late[0].event_time]
    assert position[id(on_time_after[0])] < position[id(late[0])]
    assert [i.arrival_time for i in items] == sorted(i.arrival_time for i in items)


def test_hotline_rhythm_over_a_week(city) -> None:
    base = load_scenario("quiet_day", city)
    week = base.model_copy(update={
        "duration": timedelta(days=7), "seed": 7,
        "background": base.background.model_copy(update={"sensors": {}, "police_per_hour": 0.0}),
    })
    sim = simulate(week, city)
    by_hour: Counter = Counter()
    weekday, weekend = 0, 0
    for r in sim.records:
        local = r.event_time.astimezone(CST)
        by_hour[local.hour] += 1
        if local.weekday() >= 5:
            weekend += 1
        else:
            weekday += 1
    assert by_hour[3] * 5 < by_hour[10]
    assert by_hour[10] > by_hour[12] and by_hour[15] > by_hour[13]
    assert weekend / 2 < weekday / 5  # a bit less on weekends


def test_bad_scenario_names_file_and_field(tmp_path: Path, city) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nstart: 2026-11-23T00:00:00+08:00\nduration: PT2H\n"
        "incidents:\n  - {id: x, kind: meteor, street: '410105002', start: 2026-11-23T01:00:00+08:00,"
        " duration: PT1H, expected_level: II, expected_categories: [water_supply]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(str(bad), city)
    assert "bad.yaml" in str(info.value) and "incidents.0.kind" in str(info.value)

    bad.write_text(
        "name: bad\nstart: 2026-11-23T00:00:00+08:00\nduration: PT2H\n"
        "incidents:\n  - {id: x, kind: gas_leak, street: '410199001', start: 2026-11-23T05:00:00+08:00,"
        " duration: PT1H, expected_level: II, expected_categories: [gas]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(bad, city)
    text = str(info.value)
    assert "bad.yaml" in text
    for field in ("incidents.0.street", "incidents.0.start", "incidents.0.expected_categories.0"):
        assert field in text

    bad.write_text("name: bad\nstart: 2026-11-23T00:00:00\nduration: PT2H\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="start"):
        load_scenario(bad, city)
    with pytest.raises(ConfigError, match="no such scenario"):
        load_scenario("no_such_scenario", city)


def test_write_files_and_ground_truth(tmp_path: Path, messy) -> None:
    stats = sinks.write_files(messy, tmp_path / "out", ground_truth_path=tmp_path / "gt.json")
    lines = {s: (tmp_path / "out" / name).read_bytes().splitlines() for s, name in sinks.FILE_NAMES.items()}
    assert sum(len(v) for v in lines.values()) == stats.sent
    assert stats.sensor == messy.counts()[Source.sensor] and stats.late > 0
    flat = stats.as_dict()
    assert flat["hotline"] + flat["police"] + flat["sensor"] + flat["malformed"] + flat["duplicates"] == flat["sent"]
    truth = json.loads((tmp_path / "gt.json").read_text(encoding="utf-8"))
    assert truth == json.loads((tmp_path / "out" / "ground_truth.json").read_text(encoding="utf-8"))
    (incident,) = truth["incidents"]
    assert incident["street"] == "410104002" and incident["expected_level"] == "I"
    assert incident["start"] < incident["first_at"]["sensor"] < incident["end"]


def test_cli_writes_files(tmp_path: Path) -> None:
    app = typer.Typer()
    cli.register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps `simulate` a named subcommand
        pass

    result = CliRunner().invoke(app, ["simulate", "--scenario", "water_main_burst", "--out", str(tmp_path),
                                      "--seed", "5", "--ground-truth", str(tmp_path / "gt.json")])
    assert result.exit_code == 0, result.output
    assert "hotline" in result.output and "wmb-410105002-01" in result.output
    assert json.loads((tmp_path / "gt.json").read_text(encoding="utf-8"))["seed"] == 5
    bad = CliRunner().invoke(app, ["simulate", "--scenario", "nope", "--out", str(tmp_path)])
    assert bad.exit_code == 2


def test_pacer_follows_simulated_time() -> None:
    now, slept = [0.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = sinks.Pacer(60.0, clock=lambda: now[0], sleep=sleep)
    start = Scenario(name="x", start="2026-11-23T00:00:00+08:00", duration="PT1H").start

    async def run() -> None:
        for minutes in (0, 1, 3):
            await pacer.wait(start + timedelta(minutes=minutes))

    asyncio.run(run())
    assert slept == pytest.approx([1.0, 2.0])


def test_publish_to_kafka_sends_raw_bytes(monkeypatch, city) -> None:
    sent: list[tuple[str, bytes, bytes | None]] = []

    class FakeProducer:
        def __init__(self, **kwargs) -> None:
            assert kwargs["bootstrap_servers"] == "broker:9092"

        async def start(self) -> None: ...
        async def stop(self) -> None: ...

        async def send(self, topic, value, key=None):
            sent.append((topic, value, key))
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

    import aiokafka

    monkeypatch.setattr(aiokafka, "AIOKafkaProducer", FakeProducer)
    scenario = load_scenario("water_main_burst", city).model_copy(update={"duration": timedelta(hours=1), "incidents": []})
    stats = asyncio.run(sinks.publish_to_kafka(scenario, "broker:9092", speed=0, city=city))
    assert len(sent) == stats.sent > 0
    assert {topic for topic, _, _ in sent} == {spec.name for spec in RAW_TOPICS.values()}
    topic, value, key = next(s for s in sent if s[0] == RAW_TOPICS[Source.hotline].name)
    assert HotlineRecord.model_validate_json(value).order_id.encode() == key

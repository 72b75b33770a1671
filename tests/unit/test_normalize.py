"""Raw records become canonical events, or fail with a precise reason."""

from __future__ import annotations

import json

import pytest

from riskwatch.config.loader import load_city_config
from riskwatch.contracts import Source
from riskwatch.streams.normalize import NormalizeError, Normalizer, partition_key, region_key
from tests.factories import GRID, STREET, T0, hotline, police, sensor


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer(load_city_config())


def test_hotline_is_placed_classified_and_masked(normalizer: Normalizer) -> None:
    event = normalizer.normalize(Source.hotline, hotline("GD1", T0, content="停水两天了，电话13912345678"))
    assert event.event_id == "hotline:GD1"
    assert event.category == "water_supply"
    assert event.region_code == STREET and event.district_code == "410105"
    assert "13912345678" not in (event.text or "")
    assert region_key(event) == STREET
    assert partition_key(event) == "410105", "a district's events share one partition"


def test_police_is_placed_on_the_nearest_grid(normalizer: Normalizer) -> None:
    event = normalizer.normalize(Source.police, police("JJ1", T0, type_code="0400"))
    assert event.category == "traffic_accident"
    assert event.street_code is not None and len(event.region_code) == 15


def test_sensor_keeps_value_and_grid(normalizer: Normalizer) -> None:
    event = normalizer.normalize(Source.sensor, sensor("WP-1", T0, 0.31))
    assert (event.region_code, event.metric, event.value, event.category) == (GRID, "water_pressure", 0.31, "water_supply")


@pytest.mark.parametrize(
    ("source", "raw", "reason"),
    [
        (Source.hotline, b"{not json", "invalid_json"),
        (Source.hotline, b"[1, 2]", "invalid_json"),
        (Source.hotline, b"\xff\xfe", "invalid_json"),
        (Source.hotline, json.dumps({"order_id": "x"}).encode(), "invalid_record"),
        (Source.hotline, hotline("GD2", T0, street="999999001"), "unknown_region"),
        (Source.police, police("JJ2", T0, lon=120.0, lat=30.0), "unknown_region"),
        (Source.sensor, sensor("X", T0, 1.0, metric="radiation"), "unknown_metric"),
        (Source.sensor, sensor("X", T0, 1.0, unit="bar"), "wrong_unit"),
        (Source.sensor, sensor("X", T0, 99.0), "sensor_out_of_range"),
    ],
)
def test_bad_records_fail_with_reason(normalizer: Normalizer, source: Source, raw: bytes, reason: str) -> None:
    with pytest.raises(NormalizeError) as caught:
        normalizer.normalize(source, raw)
    assert caught.value.reason == reason
    assert caught.value.detail


def test_naive_timestamps_are_refused(normalizer: Normalizer) -> None:
    raw = hotline("GD3", T0).replace(b"+08:00", b"")
    with pytest.raises(NormalizeError) as caught:
        normalizer.normalize(Source.hotline, raw)
    assert "received_at" in caught.value.detail

"""Turn one raw upstream record (bytes) into a canonical `Event`, or say exactly why not.

Pure: no Kafka here. The Faust agent and offline replay both call `Normalizer.normalize`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex, RegionInfo
from riskwatch.contracts import (
    RAW_MODELS,
    Event,
    HotlineRecord,
    PoliceRecord,
    SensorRecord,
    Source,
)
from riskwatch.contracts.personal_data import mask_text
from riskwatch.streams.classify import KeywordClassifier


class NormalizeError(ValueError):
    """A record that cannot become an event; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _validation_detail(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        field = ".".join(str(p) for p in item["loc"]) or "(record)"
        parts.append(f"{field}: {item['msg']}")
    return "; ".join(parts)


class Normalizer:
    """Parses, validates, places, classifies and masks raw records of every source."""

    def __init__(self, config: CityConfig, regions: RegionIndex | None = None) -> None:
        self._taxonomy = config.taxonomy
        self._regions = regions or RegionIndex(config.regions)
        self._classifier = KeywordClassifier(config.taxonomy)

    def parse(self, source: Source, raw: bytes) -> Any:
        """Decode and validate the raw record of `source`."""
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NormalizeError("invalid_json", str(exc)) from exc
        if not isinstance(data, dict):
            raise NormalizeError("invalid_json", f"expected a JSON object, got {type(data).__name__}")
        try:
            return RAW_MODELS[source].model_validate(data)
        except ValidationError as exc:
            raise NormalizeError("invalid_record", _validation_detail(exc)) from exc

    def normalize(self, source: Source, raw: bytes) -> Event:
        record = self.parse(source, raw)
        if isinstance(record, HotlineRecord):
            return self._hotline(record)
        if isinstance(record, PoliceRecord):
            return self._police(record)
        return self._sensor(record)

    # ------------------------------------------------------------------ per source

    def _hotline(self, record: HotlineRecord) -> Event:
        region = self._first_known(record.street_code, record.district_code)
        if region is None:
            raise NormalizeError(
                "unknown_region", f"district {record.district_code} / street {record.street_code} not in regions.yaml"
            )
        names = (record.caller_name,) if record.caller_name else ()
        text = mask_text(record.content, names)
        return self._event(
            event_id=f"hotline:{record.order_id}",
            source=Source.hotline,
            occurred_at=record.received_at,
            region=region,
            category=self._classifier.classify(record.content, record.category_text),
            text=text,
        )

    def _police(self, record: PoliceRecord) -> Event:
        region = self._regions.nearest_grid(record.lon, record.lat)
        if region is None and record.district_code:
            region = self._regions.get(record.district_code)
        if region is None:
            raise NormalizeError("unknown_region", f"point ({record.lon}, {record.lat}) is outside the city's grids")
        category = self._taxonomy.police_types.get(record.type_code)
        if category is None:
            category = self._taxonomy.police_types.get(record.type_code[:2] + "00", self._taxonomy.default_category)
        return self._event(
            event_id=f"police:{record.incident_id}",
            source=Source.police,
            occurred_at=record.reported_at,
            region=region,
            category=category,
            priority=record.priority,
            text=mask_text(record.address),
            lat=record.lat,
            lon=record.lon,
        )

    def _sensor(self, record: SensorRecord) -> Event:
        metric = self._taxonomy.metric(record.metric)
        if metric is None:
            raise NormalizeError("unknown_metric", f"metric {record.metric!r} is not in taxonomy.yaml")
        if record.unit != metric.unit:
            raise NormalizeError("wrong_unit", f"{record.metric} must be in {metric.unit!r}, got {record.unit!r}")
        if not metric.valid_min <= record.value <= metric.valid_max:
            raise NormalizeError(
                "sensor_out_of_range",
                f"{record.device_id} {record.metric}={record.value} outside [{metric.valid_min}, {metric.valid_max}]",
            )
        region = self._regions.get(record.grid_code) if record.grid_code else None
        region = region or self._regions.nearest_grid(record.lon, record.lat)
        if region is None:
            raise NormalizeError("unknown_region", f"sensor {record.device_id} at ({record.lon}, {record.lat}) is outside the city")
        return self._event(
            event_id=f"sensor:{record.device_id}:{record.metric}:{record.ts.isoformat()}",
            source=Source.sensor,
            occurred_at=record.ts,
            region=region,
            category=metric.category,
            metric=record.metric,
            value=record.value,
            unit=record.unit,
            device_id=record.device_id,
            lat=record.lat,
            lon=record.lon,
        )

    # ------------------------------------------------------------------ helpers

    def _first_known(self, *codes: str | None) -> RegionInfo | None:
        for code in codes:
            if code and code in self._regions:
                return self._regions.get(code)
        return None

    @staticmethod
    def _event(*, region: RegionInfo, **fields: Any) -> Event:
        return Event(
            region_code=region.code,
            district_code=region.district_code,
            street_code=region.street_code,
            **fields,
        )


def region_key(event: Event) -> str:
    """The most specific area an event is counted in: its street, or its district when no street is known."""
    return event.street_code or event.district_code


def partition_key(event: Event) -> str:
    """Events and signals are keyed by district, so everything about one district lives on one
    partition and so on one worker: district-level detectors (Prophet trends) count every
    street of it, and grading fuses neighbouring streets (always within one district) and
    district-level signals in one place, however many workers share the partitions."""
    return event.district_code

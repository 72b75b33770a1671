"""Records for tests: raw records built as upstream systems would send them, and detector signals
for the grader."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from riskwatch.contracts import Signal, SignalKind, Source

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=BEIJING)
STREET = "410105002"  # 金水区花园路街道
GRID = "410105002001001"


def hotline(order_id: str, at: datetime, content: str = "小区停水了，一直没水", street: str = STREET, **extra: object) -> bytes:
    record = {
        "order_id": order_id,
        "received_at": at.isoformat(),
        "channel": "phone",
        "content": content,
        "caller_phone": "13812345678",
        "district_code": street[:6],
        "street_code": street,
    }
    record.update(extra)
    return json.dumps(record, ensure_ascii=False).encode()


def police(incident_id: str, at: datetime, type_code: str = "0302", lon: float = 113.689, lat: float = 34.790) -> bytes:
    return json.dumps(
        {
            "incident_id": incident_id,
            "reported_at": at.isoformat(),
            "type_code": type_code,
            "address": "花园路与农业路交叉口",
            "lat": lat,
            "lon": lon,
            "priority": 2,
        },
        ensure_ascii=False,
    ).encode()


def sensor(device: str, at: datetime, value: float, metric: str = "water_pressure", unit: str = "MPa", grid: str = GRID) -> bytes:
    return json.dumps(
        {"device_id": device, "metric": metric, "value": value, "unit": unit, "ts": at.isoformat(), "lat": 34.79, "lon": 113.689, "grid_code": grid}
    ).encode()


def signal(
    source: Source,
    score: float,
    minutes: float = 0,
    *,
    region: str = STREET,
    category: str = "water_supply",
    hard_rule: str | None = None,
    detector: str | None = None,
    reason: str | None = None,
    observed: float = 10,
    expected: float = 1,
    signal_id: str | None = None,
) -> Signal:
    """A surge signal `minutes` after T0 (detector `<source>_detector` unless given); its id is
    unique per combination of the arguments that shape the grading."""
    return Signal(
        signal_id=signal_id or f"{source.value}-{category}-{region}-{score}-{minutes}-{hard_rule}",
        detector=detector or f"{source.value}_detector",
        kind=SignalKind.surge,
        source=source,
        region_code=region,
        district_code=region[:6],
        category=category,
        at=T0 + timedelta(minutes=minutes),
        score=score,
        observed=observed,
        expected=expected,
        reason=reason or f"{category} looks wrong",
        hard_rule=hard_rule,
    )

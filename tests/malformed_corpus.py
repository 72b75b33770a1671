"""Malformed raw records of every source: what broken upstream systems and attackers send.

`nasty_records(source)` is a fixed corpus in which every entry must be dead-lettered;
`mutations(rng, source, count)` derives random variants of a valid record (which may or may
not still be valid) for fuzzing.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

from riskwatch.contracts import Source
from tests.factories import T0, hotline, police, sensor

#: Required fields of each source and a value of the wrong type for each (pydantic's lax mode
#: takes numbers in strings and Unix times for datetimes, so those are not wrong here).
WRONG_TYPES: dict[Source, dict[str, Any]] = {
    Source.hotline: {"order_id": 123, "received_at": [2026, 11, 23], "channel": ["phone"], "content": {"text": "停水"},
                     "district_code": 410105, "street_code": True},
    Source.police: {"incident_id": None, "reported_at": "昨天下午", "type_code": 302, "address": 5, "lat": "北纬34度",
                    "lon": [], "priority": "紧急"},
    Source.sensor: {"device_id": {}, "metric": 1, "value": "N/A", "unit": None, "ts": "2026-13-45T99:00:00+08:00",
                    "lat": "north", "lon": {"deg": 113}},
}

OPTIONAL: dict[Source, frozenset[str]] = {
    Source.hotline: frozenset({"street_code"}), Source.police: frozenset(), Source.sensor: frozenset(),
}


def valid_record(source: Source) -> bytes:
    """One record of `source` that normalizes to an event."""
    if source is Source.hotline:
        return hotline("GD-fuzz-0", T0)
    if source is Source.police:
        return police("JJ-fuzz-0", T0)
    return sensor("WP-fuzz-0", T0, 0.3)


def _with(source: Source, **changes: Any) -> bytes:
    data = json.loads(valid_record(source))
    data.update(changes)
    return json.dumps(data, ensure_ascii=False, allow_nan=True).encode("utf-8")


def _without(source: Source, name: str) -> bytes:
    data = json.loads(valid_record(source))
    data.pop(name)
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _time_field(source: Source) -> str:
    return {Source.hotline: "received_at", Source.police: "reported_at", Source.sensor: "ts"}[source]


def nasty_records(source: Source, huge_len: int = 1_000_000) -> list[bytes]:
    """A fixed corpus of records of `source` that must all end in the dead-letter topic.

    `huge_len` characters make the oversized strings (keep them under a broker's message limit).
    """
    good = valid_record(source)
    time_field = _time_field(source)
    huge = "水" * huge_len
    corpus = [
        b"",
        b" ",
        b"\x00",
        b"null",
        b"[]",
        b'"a string"',
        b"42",
        b"NaN",
        good[: len(good) // 2],  # truncated
        good[:-1],  # truncated by one byte
        b"\xff\xfe\xfd" + good,  # not UTF-8
        good.replace(b'"', b"'"),  # Python repr, not JSON
        good + b"garbage",
        b"{" * 10_000,  # nesting deep enough to trouble a recursive parser
        json.dumps({"a": [[[[[[{"b": None}]]]]]]}).encode(),
        _with(source, **{time_field: T0.replace(tzinfo=None).isoformat()}),  # naive timestamp
        _with(source, **{time_field: ""}),
        _with(source, unexpected_field="x"),
        *(_with(source, **{name: bad}) for name, bad in WRONG_TYPES[source].items()),
        *(_without(source, name) for name in WRONG_TYPES[source] if name not in OPTIONAL[source]),
    ]
    if source is Source.hotline:
        corpus += [
            _with(source, content=huge),
            _with(source, content=""),
            _with(source, order_id="x" * 10_000),
            _with(source, district_code="999999", street_code="999999999"),  # not in regions.yaml
            _with(source, district_code="41010"),
        ]
    elif source is Source.police:
        corpus += [
            _with(source, lat=float("nan")),
            _with(source, lon=float("inf")),
            _with(source, lat=1e308 * 10),  # overflows to Infinity
            _with(source, lat=31.23, lon=121.47),  # far outside the city
            _with(source, priority=0),
            _with(source, address=huge),
        ]
    else:
        corpus += [
            _with(source, value=float("nan")),
            _with(source, value=float("inf")),
            _with(source, value=-float("inf")),
            _with(source, value=1e300),
            _with(source, metric="radiation"),  # not in taxonomy.yaml
            _with(source, unit="bar"),  # wrong unit for water_pressure
            _with(source, grid_code=None, lat=31.23, lon=121.47),  # outside the city
            _with(source, device_id=huge),
        ]
    return corpus


def _random_value(rng: random.Random) -> Any:
    return rng.choice([
        None, True, -1, 0, 2**64, 1e308, float("nan"), float("inf"), "", " ", "\u0000", "\ud800",
        "水" * rng.randrange(1, 300), [], {}, [1, "a"], {"k": {"k": [None]}},
        (T0 + timedelta(days=rng.randrange(-40_000, 40_000))).isoformat(),
        T0.replace(tzinfo=None).isoformat(),
    ])


def mutations(rng: random.Random, source: Source, count: int) -> list[bytes]:
    """`count` random variants of a valid record: fields replaced, dropped or added; bytes cut,
    flipped or inserted."""
    base = json.loads(valid_record(source))
    out: list[bytes] = []
    for _ in range(count):
        data = dict(base)
        for _ in range(rng.randrange(1, 4)):
            action = rng.random()
            name = rng.choice(sorted(data)) if data else "x"
            if action < 0.5:
                data[name] = _random_value(rng)
            elif action < 0.7:
                data.pop(name, None)
            else:
                data[f"extra_{rng.randrange(100)}"] = _random_value(rng)
        try:
            raw = json.dumps(data, ensure_ascii=rng.random() < 0.5, allow_nan=True).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):
            raw = repr(data).encode("utf-8", "surrogatepass")
        if rng.random() < 0.3:
            raw = _mangle_bytes(rng, raw)
        out.append(raw)
    return out


def _mangle_bytes(rng: random.Random, raw: bytes) -> bytes:
    buf = bytearray(raw)
    for _ in range(rng.randrange(1, 6)):
        choice = rng.random()
        at = rng.randrange(len(buf) + 1)
        if choice < 0.3 and buf:
            del buf[at:at + rng.randrange(1, 20)]
        elif choice < 0.6 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        else:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    return bytes(buf)

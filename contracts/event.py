"""The canonical event every source is normalised into (topic `riskwatch.events`)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from riskwatch.contracts.base import Record
from riskwatch.contracts.raw import Source


class Event(Record):
    """One canonical event, whatever its source; personal data already masked."""

    event_id: str = Field(description="Source-qualified id, e.g. 'hotline:GD202611230001'")
    source: Source
    occurred_at: AwareDatetime = Field(description="Event time: when it happened, not when it arrived")
    region_code: str = Field(description="Most specific region known: grid (15), street (9) or district (6)")
    district_code: str
    street_code: str | None = None
    category: str = Field(description="Taxonomy category code")
    metric: str | None = None
    value: float | None = None
    unit: str | None = None
    device_id: str | None = None
    priority: int | None = None
    text: str | None = Field(default=None, description="Free text with personal data masked")
    lat: float | None = None
    lon: float | None = None
    raw_partition: int | None = Field(
        default=None, description="Partition of the raw topic it was read from; lateness is judged per upstream order"
    )

"""Raw upstream records as the hotline, police and sensor systems send them."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from riskwatch.contracts.base import Record


class Source(str, Enum):
    """Where an event came from."""

    hotline = "hotline"
    police = "police"
    sensor = "sensor"


class HotlineRecord(Record):
    """A 12345 citizen-hotline work order as the hotline system sends it."""

    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    received_at: AwareDatetime
    channel: Literal["phone", "web", "app", "wechat"]
    request_type: Literal["咨询", "求助", "投诉", "举报", "建议"] = "投诉"
    category_text: str = Field(default="", max_length=64, description="Category as the operator typed it")
    content: Annotated[str, Field(min_length=1, max_length=4000)]
    caller_name: str | None = Field(default=None, max_length=64)
    caller_phone: str | None = Field(default=None, max_length=32)
    district_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    street_code: Annotated[str | None, Field(pattern=r"^\d{9}$")] = None
    community_code: Annotated[str | None, Field(pattern=r"^\d{12}$")] = None
    address: str | None = Field(default=None, max_length=256)


class PoliceRecord(Record):
    """A 110 police incident as the police dispatch system sends it."""

    incident_id: Annotated[str, Field(min_length=1, max_length=64)]
    reported_at: AwareDatetime
    type_code: Annotated[str, Field(min_length=1, max_length=16)]
    address: str = Field(max_length=256)
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    priority: Annotated[int, Field(ge=1, le=4, description="1 = most urgent")]
    caller_phone: str | None = Field(default=None, max_length=32)
    district_code: Annotated[str | None, Field(pattern=r"^\d{6}$")] = None


class SensorRecord(Record):
    """One reading from an IoT gateway."""

    device_id: Annotated[str, Field(min_length=1, max_length=64)]
    metric: Annotated[str, Field(min_length=1, max_length=32)]
    value: float
    unit: str = Field(max_length=16)
    ts: AwareDatetime
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    grid_code: Annotated[str | None, Field(pattern=r"^\d{15}$")] = None


RAW_MODELS: dict[Source, type[Record]] = {
    Source.hotline: HotlineRecord,
    Source.police: PoliceRecord,
    Source.sensor: SensorRecord,
}

"""The JSON Schema name of every record on a topic, for `riskwatch schema export` and the docs."""

from __future__ import annotations

from pydantic import BaseModel

from riskwatch.contracts.deadletter import DeadLetter
from riskwatch.contracts.event import Event
from riskwatch.contracts.feedback import Feedback
from riskwatch.contracts.raw import HotlineRecord, PoliceRecord, SensorRecord
from riskwatch.contracts.signal import Signal
from riskwatch.contracts.warning import Warning

BOUNDARY_MODELS: dict[str, type[BaseModel]] = {
    "hotline_record": HotlineRecord,
    "police_record": PoliceRecord,
    "sensor_record": SensorRecord,
    "event": Event,
    "signal": Signal,
    "warning": Warning,
    "dead_letter": DeadLetter,
    "feedback": Feedback,
}

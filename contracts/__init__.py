"""What travels on the topics: raw records, Event, Signal, Warning, Feedback, DeadLetter, topics.

One module per kind of record; this package re-exports them so every stage imports its types
from one place (`from riskwatch.contracts import Event, Signal`). It imports nothing else of
riskwatch: every other part depends on it, never the reverse.
"""

from __future__ import annotations

from riskwatch.contracts.base import Record
from riskwatch.contracts.deadletter import DeadLetter
from riskwatch.contracts.event import Event
from riskwatch.contracts.feedback import Feedback, Transition
from riskwatch.contracts.ids import stable_id
from riskwatch.contracts.raw import RAW_MODELS, HotlineRecord, PoliceRecord, SensorRecord, Source
from riskwatch.contracts.signal import Signal, SignalKind
from riskwatch.contracts.warning import Level, MsgType, SignalSummary, Warning, WarningStatus

__all__ = [
    "RAW_MODELS",
    "DeadLetter",
    "Event",
    "Feedback",
    "HotlineRecord",
    "Level",
    "MsgType",
    "PoliceRecord",
    "Record",
    "SensorRecord",
    "Signal",
    "SignalKind",
    "SignalSummary",
    "Source",
    "Transition",
    "Warning",
    "WarningStatus",
    "stable_id",
]

"""Helpers for the alert-feed API tests: warnings of the sample city, a store with a manual
clock and one token per role, and a recording feedback publisher
(the real server for streaming tests is `tests.servers.serve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.feed.feedback_publisher import FeedbackPublishError
from riskwatch.alerts.store.store import WarningStore
from riskwatch.alerts.store.tokens import Role
from riskwatch.contracts import Level, MsgType, SignalKind, SignalSummary, Source, Warning, WarningStatus
from riskwatch.contracts.feedback import Feedback

T0 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
GRID = "410105002001001"  # 金水区花园路街道 第1网格
STREET = GRID[:9]
DISTRICT = GRID[:6]
WATER = "water_group"
GAS = "gas_company"


def api_warning(**overrides: Any) -> Warning:
    """A level-III water warning in a grid of the sample city, with personal data in its text."""
    at = overrides.get("updated_at", T0)
    region = overrides.get("region_code", GRID)
    fields: dict[str, Any] = {
        "warning_id": "w-api-1",
        "version": 1,
        "msg_type": MsgType.alert,
        "level": Level.III,
        "status": WarningStatus.new,
        "region_code": region,
        "region_name": "金水区花园路街道花园路第1网格",
        "district_code": region[:6],
        "category": "water_supply",
        "category_name": "供水",
        "title": "花园路街道停水投诉激增",
        "department": WATER,
        "first_seen": T0,
        "updated_at": at,
        "score": 0.7,
        "sources": (Source.hotline, Source.sensor),
        "explanation": ("热线激增：14 单，预期 3.2", "联系人张三反映整栋楼停水"),
        "signals": (
            SignalSummary(
                signal_id="s-1",
                detector="count_surge",
                kind=SignalKind.surge,
                source=Source.hotline,
                region_code=region,
                at=at,
                score=0.75,
                observed=14.0,
                expected=3.2,
                reason="王先生等 14 单停水投诉，预期 3.2",
            ),
        ),
    }
    fields.update(overrides)
    return Warning(**fields)


def next_version(warning: Warning, **overrides: Any) -> Warning:
    """The warning's next message (an Update unless `msg_type` says otherwise)."""
    fields = {"version": warning.version + 1, "msg_type": MsgType.update} | overrides
    return warning.model_copy(update=fields)


@dataclass
class Tokens:
    """One plaintext token per role (and one operator of another department)."""

    commander: str
    operator: str
    other_operator: str
    analyst: str
    public: str


def make_tokens(store: WarningStore) -> Tokens:
    return Tokens(
        commander=store.tokens.create("指挥长", Role.commander)[1],
        operator=store.tokens.create("供水值班员", Role.operator, WATER)[1],
        other_operator=store.tokens.create("燃气值班员", Role.operator, GAS)[1],
        analyst=store.tokens.create("分析员", Role.analyst)[1],
        public=store.tokens.create("公众", Role.public)[1],
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sqlite_store(path: str, clock: ManualClock) -> WarningStore:
    store = WarningStore(f"sqlite:///{path}", clock=clock)
    store.migrate()
    return store


class RecordingPublisher:
    """A feedback publisher that keeps what it was given, or fails every publish when told to."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[Feedback] = []
        self.fail = fail
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def publish(self, feedback: Feedback) -> None:
        if self.fail:
            raise FeedbackPublishError(f"broker down (test) for {feedback.warning_id}")
        self.sent.append(feedback)

    async def stop(self) -> None:
        self.stopped = True

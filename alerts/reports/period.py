"""Report periods: a local day, ISO week or calendar month in the city's time zone.

Command centers hold their daily dispatch, weekly review and monthly evaluation on local
(Asia/Shanghai) dates, so a period is a half-open range of local dates turned into UTC bounds
for the store, plus the buckets its trend charts are drawn over.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["CITY_TZ", "Bucket", "Period", "ReportKind", "last_complete_period", "period_for"]

CITY_TZ = ZoneInfo("Asia/Shanghai")


class ReportKind(str, Enum):
    """Which meeting a report serves."""

    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"

    @property
    def title_zh(self) -> str:
        return {"daily": "每日调度报告", "weekly": "每周研判报告", "monthly": "月度评估报告"}[self.value]


class Bucket(BaseModel):
    """One step of a trend chart: [start, end) in UTC and its local label."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    label: str


class Period(BaseModel):
    """Local dates [start, end) of one report; `end` is the first day after it."""

    model_config = ConfigDict(frozen=True)

    kind: ReportKind
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError(f"period end {self.end} must be after its start {self.start}")
        return self

    @property
    def start_utc(self) -> datetime:
        """The first instant of the period (aware)."""
        return datetime.combine(self.start, time(), CITY_TZ)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the period (aware)."""
        return datetime.combine(self.end, time(), CITY_TZ)

    def contains(self, at: datetime) -> bool:
        """Whether an aware instant falls inside the period."""
        return self.start_utc <= at < self.end_utc

    @property
    def label_zh(self) -> str:
        """How the period is named on the report, e.g. `2026年第48周（11月23日–11月29日）`."""
        if self.kind is ReportKind.daily:
            return f"{self.start.year}年{self.start.month}月{self.start.day}日"
        if self.kind is ReportKind.weekly:
            year, week, _ = self.start.isocalendar()
            last = self.end - timedelta(days=1)
            return f"{year}年第{week}周（{self.start.month}月{self.start.day}日–{last.month}月{last.day}日）"
        return f"{self.start.year}年{self.start.month}月"

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return period_for(self.kind, self.start - timedelta(days=1))

    def buckets(self) -> list[Bucket]:
        """Hours for a daily report, days for weekly and monthly ones."""
        if self.kind is ReportKind.daily:
            first = self.start_utc
            return [
                Bucket(start=first + timedelta(hours=h), end=first + timedelta(hours=h + 1), label=f"{h:02d}")
                for h in range(24)
            ]
        days = (self.end - self.start).days
        out = []
        for offset in range(days):
            day = self.start + timedelta(days=offset)
            out.append(
                Bucket(
                    start=datetime.combine(day, time(), CITY_TZ),
                    end=datetime.combine(day + timedelta(days=1), time(), CITY_TZ),
                    label=f"{day.month}/{day.day}",
                )
            )
        return out


def period_for(kind: ReportKind, day: date) -> Period:
    """The period of `kind` that contains the local date `day`."""
    if kind is ReportKind.daily:
        return Period(kind=kind, start=day, end=day + timedelta(days=1))
    if kind is ReportKind.weekly:
        monday = day - timedelta(days=day.isoweekday() - 1)
        return Period(kind=kind, start=monday, end=monday + timedelta(days=7))
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(kind=kind, start=first, end=following)


def last_complete_period(kind: ReportKind, now: datetime) -> Period:
    """The newest period of `kind` that ended before `now` (the usual subject of a meeting)."""
    today = now.astimezone(CITY_TZ).date()
    return period_for(kind, today).previous()

"""Reports on the real PostgreSQL: the scenario fortnight in a database of its own, every report
kind rendered from it and checked against the scenario's own derivation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.reports.period import ReportKind, period_for
from riskwatch.alerts.store.store import WarningStore
from riskwatch.tools.report_cli import run_report
from tests.databases import fresh_database
from tests.report_scenario import apply, assert_report_matches, local

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def report_db_url(postgres_url: str) -> Iterator[str]:
    """A fresh database on the test server, so other tests' warnings never reach the counts."""
    with fresh_database(postgres_url, "rw_reports") as url:
        clock = ManualClock(local(16, 0))
        store = WarningStore(url, clock=clock)
        store.migrate()
        apply(store, clock)
        store.close()
        yield url


@pytest.mark.parametrize(
    ("kind", "day"),
    [
        (ReportKind.daily, date(2026, 11, 24)),
        (ReportKind.daily, date(2026, 11, 23)),
        (ReportKind.weekly, date(2026, 11, 25)),
        (ReportKind.monthly, date(2026, 11, 5)),
    ],
)
def test_report_on_postgres_shows_the_numbers_the_data_implies(
    kind: ReportKind, day: date, report_db_url: str, tmp_path: Path
) -> None:
    period = period_for(kind, day)
    path = run_report(kind, period, report_db_url, tmp_path / f"{kind.value}.html")
    store = WarningStore(report_db_url)
    try:
        assert_report_matches(path.read_text(encoding="utf-8"), store, period.start_utc, period.end_utc)
    finally:
        store.close()

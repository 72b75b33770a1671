"""Reports: period arithmetic, and daily/weekly/monthly HTML built from a SQLite store whose
numbers are checked against the scenario's own derivation (tests/report_scenario.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import lxml.html
import pytest
import typer
from typer.testing import CliRunner

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.reports import figures, render
from riskwatch.alerts.reports.period import Period, ReportKind, last_complete_period, period_for
from riskwatch.alerts.store.store import WarningStore
from riskwatch.tools.report_cli import register, run_report
from tests.report_scenario import SH, apply, assert_report_matches, local

# --------------------------------------------------------------------------- periods


def test_daily_period_is_one_shanghai_day() -> None:
    period = period_for(ReportKind.daily, date(2026, 11, 23))
    assert period.start_utc == datetime(2026, 11, 22, 16, tzinfo=UTC)
    assert period.end_utc == datetime(2026, 11, 23, 16, tzinfo=UTC)
    assert period.contains(datetime(2026, 11, 22, 16, 30, tzinfo=UTC))  # 00:30 local on the 23rd
    assert not period.contains(datetime(2026, 11, 23, 16, tzinfo=UTC))
    assert len(period.buckets()) == 24
    assert period.label_zh == "2026年11月23日"


def test_weekly_period_is_the_iso_week_and_crosses_the_year() -> None:
    period = period_for(ReportKind.weekly, date(2026, 12, 31))  # a Thursday in ISO week 53
    assert (period.start, period.end) == (date(2026, 12, 28), date(2027, 1, 4))
    assert period.label_zh.startswith("2026年第53周")
    assert period.previous().start == date(2026, 12, 21)
    assert [b.label for b in period.buckets()] == ["12/28", "12/29", "12/30", "12/31", "1/1", "1/2", "1/3"]


def test_monthly_period_and_its_previous_month() -> None:
    march = period_for(ReportKind.monthly, date(2026, 3, 17))
    assert (march.start, march.end) == (date(2026, 3, 1), date(2026, 4, 1))
    february = march.previous()
    assert (february.start, february.end) == (date(2026, 2, 1), date(2026, 3, 1))
    assert len(february.buckets()) == 28


def test_last_complete_period_is_the_one_before_today_local() -> None:
    # 2026-11-23 17:00 UTC is already Tuesday 24 Nov 01:00 in Shanghai
    now = datetime(2026, 11, 23, 17, tzinfo=UTC)
    assert last_complete_period(ReportKind.daily, now).start == date(2026, 11, 23)
    assert last_complete_period(ReportKind.weekly, now).start == date(2026, 11, 16)
    assert last_complete_period(ReportKind.monthly, now).start == date(2026, 10, 1)


def test_a_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="must be after its start"):
        Period(kind=ReportKind.daily, start=date(2026, 11, 23), end=date(2026, 11, 23))


# --------------------------------------------------------------------------- reports from a store


@pytest.fixture(scope="module")
def scenario_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite store holding the scenario fortnight."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reports') / 'store.db'}"
    clock = ManualClock(local(16, 0))
    store = WarningStore(url, clock=clock)
    store.migrate()
    apply(store, clock)
    store.close()
    yield url


@pytest.fixture()
def store(scenario_url: str) -> Iterator[WarningStore]:
    opened = WarningStore(scenario_url)
    yield opened
    opened.close()


@pytest.mark.parametrize(
    ("kind", "day"),
    [
        (ReportKind.daily, date(2026, 11, 24)),
        (ReportKind.daily, date(2026, 11, 23)),
        (ReportKind.weekly, date(2026, 11, 25)),
        (ReportKind.weekly, date(2026, 11, 18)),
        (ReportKind.monthly, date(2026, 11, 5)),
    ],
)
def test_report_shows_the_numbers_the_data_implies(
    kind: ReportKind, day: date, scenario_url: str, store: WarningStore, tmp_path: Path
) -> None:
    period = period_for(kind, day)
    path = run_report(kind, period, scenario_url, tmp_path / "report.html")
    assert_report_matches(path.read_text(encoding="utf-8"), store, period.start_utc, period.end_utc)


def test_weekly_report_compares_with_the_week_before(scenario_url: str, store: WarningStore, tmp_path: Path) -> None:
    period = period_for(ReportKind.weekly, date(2026, 11, 25))
    page = lxml.html.fromstring(run_report(ReportKind.weekly, period, scenario_url, tmp_path / "w.html").read_text("utf-8"))
    rows = {tr.xpath("td[1]")[0].text_content(): [td.text_content() for td in tr.xpath("td")[1:]] for tr in page.xpath('//table[@id="comparison"]//tr[td]')}
    # this week: H, A, B, C, D raised; the week before: P1, P2, E
    assert rows["预警总数 warnings"] == ["5", "3", "↑ 2"]
    # judged: this week A, C, E true and B false (25%); the week before P1 true, P2 false (50%)
    assert rows["误报率 false-alarm rate"] == ["25.0%", "50.0%", "↓ 25.0 个百分点"]


def test_daily_report_has_no_comparison(scenario_url: str, tmp_path: Path) -> None:
    period = period_for(ReportKind.daily, date(2026, 11, 24))
    page = lxml.html.fromstring(run_report(ReportKind.daily, period, scenario_url, tmp_path / "d.html").read_text("utf-8"))
    assert page.xpath('//table[@id="comparison"]') == []
    assert "每日调度报告" in page.findtext(".//h1")


def test_charts_fall_back_to_ascii_labels_without_a_cjk_font(
    scenario_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    monkeypatch.setattr(render, "cjk_font", lambda: None)
    period = period_for(ReportKind.daily, date(2026, 11, 24))
    text = run_report(ReportKind.daily, period, scenario_url, tmp_path / "ascii.html").read_text("utf-8")
    assert "No CJK font installed" in text
    assert text.count("data:image/png;base64,") == 2


# --------------------------------------------------------------------------- command line


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """riskwatch (test app)."""

    register(app)
    return app


def test_cli_writes_the_report_and_prints_its_path(scenario_url: str, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "weekly.html"
    result = CliRunner().invoke(_cli(), ["report", "weekly", "--date", "2026-11-25", "--out", str(out), "--database-url", scenario_url])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out.resolve())
    assert "2026年第48周" in out.read_text(encoding="utf-8")


def test_cli_names_a_bad_date(scenario_url: str) -> None:
    result = CliRunner().invoke(_cli(), ["report", "daily", "--date", "23/11/2026", "--database-url", scenario_url])
    assert result.exit_code == 2
    assert "expected YYYY-MM-DD" in result.output


def test_cli_refuses_a_missing_sqlite_store(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    result = CliRunner().invoke(_cli(), ["report", "daily", "--database-url", f"sqlite:///{missing}", "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert f"no warning store at {missing}" in result.output
    assert not missing.exists()


def test_report_refuses_a_naive_window(store: WarningStore) -> None:
    from riskwatch.alerts.reports.queries import load_report_data

    with pytest.raises(ValueError, match="timezone-aware"):
        load_report_data(store, datetime(2026, 11, 23), datetime(2026, 11, 24, tzinfo=SH))

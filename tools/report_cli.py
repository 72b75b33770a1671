"""`riskwatch report daily|weekly|monthly`: render a period's report from the warning store as HTML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from riskwatch.tools.cli_settings import settings as settings_for

if TYPE_CHECKING:
    from riskwatch.alerts.reports.period import Period, ReportKind

__all__ = ["KINDS", "register", "run_report"]

#: One command per report kind (`ReportKind` values), with its help.
KINDS = {
    "daily": "Daily dispatch report (每日调度): one local day.",
    "weekly": "Weekly review (每周研判): one ISO week, compared with the week before.",
    "monthly": "Monthly evaluation (月度评估): one calendar month, compared with the month before.",
}


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date: expected YYYY-MM-DD, e.g. 2026-11-23") from exc


def _check_store_exists(url: str) -> None:
    """Refuse to report on a SQLite file that is not there (opening it would create an empty one)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:") and not Path(database).expanduser().exists():
        raise FileNotFoundError(f"no warning store at {database}: set RISKWATCH_DATABASE_URL or --database-url to an existing store")


def run_report(kind: ReportKind, period: Period, database_url: str, out: Path, config_dir: Path | None = None) -> Path:
    """Build the report of `period` from the store at `database_url`, write it to `out`, return its path."""
    from riskwatch.alerts.reports.directory import load_directory
    from riskwatch.alerts.reports.period import ReportKind
    from riskwatch.alerts.reports.queries import load_report_data
    from riskwatch.alerts.reports.render import write_html
    from riskwatch.alerts.reports.report import build_report
    from riskwatch.alerts.store.store import WarningStore

    _check_store_exists(database_url)
    directory = load_directory(config_dir)
    store = WarningStore(database_url)
    try:
        window_start = period.previous().start_utc if kind is not ReportKind.daily else period.start_utc
        data = load_report_data(store, window_start, period.end_utc)
    finally:
        store.close()
    report = build_report(period, data, directory, generated_at=datetime.now(UTC))
    return write_html(report, out)


def _command(name: str) -> Callable[..., None]:
    """The command that renders one kind of report."""

    def command(
        day: Annotated[
            Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
            typer.Option("--date", help="Any local date (YYYY-MM-DD) inside the period; default: the last complete one"),
        ] = None,
        out: Annotated[Optional[Path], typer.Option(help="HTML file to write; default riskwatch-<kind>-<start>.html")] = None,  # noqa: UP045
        database_url: Annotated[Optional[str], typer.Option(help="Store URL (default RISKWATCH_DATABASE_URL)")] = None,  # noqa: UP045
    ) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import SQLAlchemyError

        from riskwatch.alerts.reports.period import ReportKind, last_complete_period, period_for
        from riskwatch.config.loader import ConfigError

        kind = ReportKind(name)
        settings = settings_for(database_url=database_url)
        parsed = _parse_day(day)
        period = period_for(kind, parsed) if parsed else last_complete_period(kind, datetime.now(UTC))
        target = out or Path(f"riskwatch-{kind.value}-{period.start.isoformat()}.html")
        try:
            path = run_report(kind, period, settings.database_url, target, settings.config_dir)
        except (ConfigError, FileNotFoundError, ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        except SQLAlchemyError as exc:
            typer.echo(
                f"error: cannot read the warning store {make_url(settings.database_url).render_as_string(hide_password=True)}: "
                f"{exc.__class__.__name__}: {str(exc).splitlines()[0]} (is it migrated? run `riskwatch db upgrade`)",
                err=True,
            )
            raise typer.Exit(2) from exc
        typer.echo(str(path))

    command.__doc__ = KINDS[name]
    return command


def register(app: typer.Typer) -> None:
    """Add the `report` command group to the riskwatch CLI."""
    report_app = typer.Typer(help="HTML reports for command-center meetings, from the warning store.", no_args_is_help=True)
    for name in KINDS:
        report_app.command(name)(_command(name))
    app.add_typer(report_app, name="report")

"""Shared pytest fixtures: real Kafka and PostgreSQL services for integration tests.

Point at existing services with ``RISKWATCH_TEST_KAFKA`` (bootstrap servers) and
``RISKWATCH_TEST_DATABASE_URL`` (SQLAlchemy URL); otherwise throwaway ones are
started once per session (see ``riskwatch.tools.devservices``). When ``CI`` is set,
missing prerequisites and skipped tests fail the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from riskwatch.tools.devservices.kafka import KafkaBroker, KafkaUnavailable
from riskwatch.tools.devservices.postgres import PostgresServer, PostgresUnavailable
from tests.unavailable import in_ci, unavailable


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker."""
    if existing := os.environ.get("RISKWATCH_TEST_KAFKA"):
        yield existing
        return
    broker = KafkaBroker()
    try:
        broker.start()
    except KafkaUnavailable as exc:
        unavailable(f"cannot start Kafka: {exc}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a real, empty PostgreSQL database."""
    if existing := os.environ.get("RISKWATCH_TEST_DATABASE_URL"):
        yield existing
        return
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        unavailable(f"cannot start PostgreSQL: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


def _skipped_reports(config: pytest.Config) -> list[pytest.TestReport]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return list(reporter.stats.get("skipped", [])) if reporter else []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test means untested code: turn skips into a failed run."""
    if in_ci() and _skipped_reports(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """List the skips that fail a CI run."""
    skipped = _skipped_reports(config)
    if not (in_ci() and skipped):
        return
    terminalreporter.section(f"CI: {len(skipped)} skipped test(s) fail the run", red=True)
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.write_line(f"SKIPPED {report.nodeid}: {reason}")

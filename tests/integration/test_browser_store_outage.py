"""The web view's health strip during a database outage, in a real headless Chromium against the
real API on a PostgreSQL server of this module's own (it is shut down mid-test).

A signed-in command center sees "存储不可用 / store unavailable" in red once the server is down
(from the stream's `health` event), and the ordinary strip again once it is back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from riskwatch.alerts.feed.app import create_app
from riskwatch.alerts.feed.feedback_publisher import NoFeedbackPublisher
from riskwatch.alerts.feed.options import ApiOptions
from riskwatch.alerts.store.store import WarningStore
from riskwatch.alerts.store.tokens import Role
from riskwatch.config.settings import Settings
from riskwatch.tools.devservices.postgres import PostgresServer, PostgresUnavailable
from tests.browser_support import chromium
from tests.servers import serve
from tests.unavailable import unavailable

pytestmark = pytest.mark.integration

#: A health event is sent every 0.5 s here; this bounds one plus the browser's work.
LIVE_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        unavailable(f"cannot start PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def store(postgres: PostgresServer) -> Iterator[WarningStore]:
    store = WarningStore(postgres.url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="module")
def base_url(store: WarningStore) -> Iterator[str]:
    options = ApiOptions(poll_interval=0.5, health_interval=0.5)
    app = create_app(Settings(database_url=store.url.render_as_string(hide_password=False)), store=store,
                     feedback_publisher=NoFeedbackPublisher(), options=options)
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def test_the_health_strip_says_store_unavailable_while_the_database_is_down(
    page: Page, base_url: str, store: WarningStore, postgres: PostgresServer
) -> None:
    _, token = store.tokens.create("值班指挥长", Role.commander)
    page.goto(base_url)
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "open", timeout=LIVE_TIMEOUT_MS)
    strip = page.get_by_test_id("pipeline-health")
    expect(strip).to_contain_text("积压", timeout=LIVE_TIMEOUT_MS)
    expect(strip).not_to_contain_text("存储不可用")

    postgres.halt()
    try:
        expect(strip).to_contain_text("存储不可用 / store unavailable", timeout=LIVE_TIMEOUT_MS)
        expect(strip).to_have_attribute("data-state", "bad")
    finally:
        postgres.resume()
    expect(strip).not_to_contain_text("存储不可用", timeout=LIVE_TIMEOUT_MS)
    expect(strip).to_contain_text("积压")

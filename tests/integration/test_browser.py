"""The command-center web view in a real headless Chromium against the real API on PostgreSQL.

A warning saved into the store after the page is open must appear live (over SSE); the
commander acknowledges it in the page and the transition is found in the store. An analyst
sees the same warning with no action buttons.
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
from riskwatch.contracts import WarningStatus
from tests.browser_support import chromium, street_warning
from tests.databases import fresh_database
from tests.servers import serve
from tests.store_contract import save

pytestmark = pytest.mark.integration

LIVE_TIMEOUT_MS = 20_000  # a change reaches the page within one store poll plus the browser's work


@pytest.fixture(scope="module")
def store(postgres_url: str) -> Iterator[WarningStore]:
    """A migrated store in a database of its own, so other modules' data never shows up."""
    with fresh_database(postgres_url, "riskwatch_browser") as url:
        store = WarningStore(url)
        store.migrate()
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(scope="module")
def base_url(store: WarningStore) -> Iterator[str]:
    """The real API (and its web view) over `store`, served by uvicorn on 127.0.0.1."""
    settings = Settings(database_url=store.url.render_as_string(hide_password=False))
    app = create_app(settings, store=store, feedback_publisher=NoFeedbackPublisher(), options=ApiOptions(poll_interval=0.2))
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


def sign_in(page: Page, base_url: str, token: str, name: str) -> None:
    """Open the page, enter the token, and wait until the live stream is connected."""
    page.goto(base_url)
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("who")).to_contain_text(name)
    expect(page.get_by_test_id("stream-state")).to_have_attribute("data-state", "open", timeout=LIVE_TIMEOUT_MS)


def warning_row(page: Page, warning_id: str):  # noqa: ANN201 - a Playwright Locator
    return page.locator(f'[data-testid="warning-row"][data-warning-id="{warning_id}"]')


def test_commander_sees_a_warning_arrive_live_and_acknowledges_it(page: Page, base_url: str, store: WarningStore) -> None:
    identity, token = store.tokens.create("值班指挥长", Role.commander)
    sign_in(page, base_url, token, "值班指挥长")
    expect(page.get_by_test_id("who")).to_have_attribute("data-role", "commander")

    warning = street_warning("browser-live-1", "花园路街道停水（浏览器测试）")
    save(store, warning)  # only after the page is open: it can only arrive over the stream

    row = warning_row(page, warning.warning_id)
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row).to_have_attribute("data-level", "II")
    expect(row).to_have_attribute("data-status", "new")
    expect(page.locator(f'[data-testid="map-marker"][data-warning-id="{warning.warning_id}"]')).to_have_count(1)

    row.click()
    expect(page.get_by_test_id("detail-title")).to_have_text(warning.title)
    expect(page.get_by_test_id("detail-explanation")).to_contain_text("低于告警限")
    page.get_by_test_id("action-reason").fill("已电话联系供水集团")
    page.locator('[data-action="acknowledge"]').click()

    expect(page.locator('[data-testid="detail-status"] [data-status]')).to_have_attribute(
        "data-status", "acknowledged", timeout=LIVE_TIMEOUT_MS
    )
    expect(row).to_have_attribute("data-status", "acknowledged")
    expect(page.locator('[data-action="acknowledge"]')).to_have_count(0)
    expect(page.locator('[data-action="start"]')).to_have_count(1)

    transitions = store.transitions.of(warning.warning_id)
    assert [(t.from_status, t.to_status) for t in transitions] == [(WarningStatus.new, WarningStatus.acknowledged)]
    assert transitions[0].actor == identity.name
    assert transitions[0].role == "commander"
    assert transitions[0].reason == "已电话联系供水集团"
    assert store.warnings.get(warning.warning_id).status is WarningStatus.acknowledged


def test_analyst_sees_warnings_without_action_buttons(page: Page, base_url: str, store: WarningStore) -> None:
    _, token = store.tokens.create("研判分析员", Role.analyst)
    sign_in(page, base_url, token, "研判分析员")
    expect(page.get_by_test_id("who")).to_have_attribute("data-role", "analyst")

    warning = street_warning("browser-analyst-1", "花园路街道水压异常（分析员视图）")
    save(store, warning)

    row = warning_row(page, warning.warning_id)
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    row.click()
    expect(page.get_by_test_id("detail-title")).to_have_text(warning.title)
    expect(page.get_by_test_id("detail-status")).to_contain_text("待处置")
    expect(page.locator("[data-action]")).to_have_count(0)
    expect(page.get_by_test_id("actions")).to_have_count(0)

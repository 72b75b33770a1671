"""The API while its store is away: /api/pipeline and the `health` event say `store: unavailable`,
any request that needs the store answers 503 (not 500), and all is well again once it is back.

The store is taken away for real: the SQLite file is moved aside and a directory put in its
place, so every new connection fails to open it (SQLITE_CANTOPEN), as a lost volume would.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.feed.app import create_app
from riskwatch.alerts.feed.errors import STORE_UNAVAILABLE
from riskwatch.alerts.feed.options import ApiOptions
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.settings import Settings
from tests.api_support import T0, RecordingPublisher, Tokens, bearer, make_tokens, sqlite_store
from tests.servers import serve

GUARD = 20.0


class Outage:
    """Takes a SQLite store's file away and brings it back."""

    def __init__(self, store: WarningStore, path: Path) -> None:
        self.store, self.path, self.aside = store, path, path.with_name(path.name + ".aside")

    def begin(self) -> None:
        self.store.engine.dispose()
        self.path.rename(self.aside)
        self.path.mkdir()
        self.store.engine.dispose()  # a connection checked in meanwhile still had the old file

    def end(self) -> None:
        shutil.rmtree(self.path)
        self.aside.rename(self.path)
        self.store.engine.dispose()


@pytest.fixture
def store_and_tokens(tmp_path: Path) -> Iterator[tuple[WarningStore, Tokens, Outage]]:
    store = sqlite_store(str(tmp_path / "rw.db"), ManualClock(T0))
    tokens = make_tokens(store)
    try:
        yield store, tokens, Outage(store, tmp_path / "rw.db")
    finally:
        store.close()


def _app(store: WarningStore, options: ApiOptions) -> object:
    return create_app(Settings(database_url=str(store.url)), store=store, feedback_publisher=RecordingPublisher(), options=options)


QUIET = ApiOptions(poll_interval=3600, health_interval=3600)


def test_requests_answer_503_store_unavailable_while_the_store_is_away(
    store_and_tokens: tuple[WarningStore, Tokens, Outage],
) -> None:
    store, tokens, outage = store_and_tokens
    with TestClient(_app(store, QUIET), raise_server_exceptions=False) as client:  # type: ignore[arg-type]
        assert client.get("/api/pipeline", headers=bearer(tokens.analyst)).json()["store"] == "available"
        outage.begin()
        for path in ("/api/pipeline", "/api/warnings", "/api/me"):
            response = client.get(path, headers=bearer(tokens.analyst))
            assert response.status_code == 503, (path, response.text)
            assert response.json() == {"detail": STORE_UNAVAILABLE, "store": "unavailable"}
            assert response.headers["retry-after"].isdigit()
        assert client.get("/healthz").status_code == 503
        outage.end()
        response = client.get("/api/pipeline", headers=bearer(tokens.analyst))
        assert response.status_code == 200 and response.json()["store"] == "available"


def test_pipeline_reports_store_unavailable_when_only_the_health_read_fails(
    store_and_tokens: tuple[WarningStore, Tokens, Outage], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, tokens, outage = store_and_tokens
    other = WarningStore(store.url)  # a second engine on the same file, which the outage takes away
    monkeypatch.setattr(store.health, "latest", other.health.latest)
    with TestClient(_app(store, QUIET)) as client:
        store.health.put("worker:a", {"lag": {"riskwatch.events": 3}})
        assert client.get("/api/pipeline", headers=bearer(tokens.analyst)).json()["lag"] == {"riskwatch.events": 3}
        other.engine.dispose()
        outage.path.rename(outage.aside)
        outage.path.mkdir()
        response = client.get("/api/pipeline", headers=bearer(tokens.analyst))  # tokens: a pooled connection
        outage.path.rmdir()
        outage.aside.rename(outage.path)
    other.close()
    assert response.status_code == 200
    assert response.json() == {
        "components": {}, "lag": {}, "warming_up": [], "dead_letters_per_min": 0.0, "stale": True, "store": "unavailable",
    }


async def test_the_health_event_says_store_unavailable_and_then_available_again(
    store_and_tokens: tuple[WarningStore, Tokens, Outage],
) -> None:
    store, tokens, outage = store_and_tokens
    options = ApiOptions(poll_interval=3600, health_interval=0.1)
    with serve(_app(store, options)) as url:  # type: ignore[arg-type]
        async with httpx.AsyncClient(base_url=url, timeout=GUARD) as client:
            async with client.stream("GET", "/api/stream", params={"token": tokens.commander}) as response:
                lines = response.aiter_lines()

                async def next_store_state(wanted: str) -> None:
                    async with asyncio.timeout(GUARD):
                        event = ""
                        async for line in lines:
                            if line.startswith("event:"):
                                event = line[6:].strip()
                            elif event == "health" and line.startswith("data:") and f'"store":"{wanted}"' in line:
                                return

                await next_store_state("available")
                outage.begin()
                await next_store_state("unavailable")
                outage.end()
                await next_store_state("available")

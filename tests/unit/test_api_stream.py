"""The SSE change feed over a real socket: events arrive for changes made after connecting,
scoped and masked per role; escalations a worker's deadline round recorded are announced."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from riskwatch.alerts.disposal.clock import ManualClock
from riskwatch.alerts.feed.app import create_app
from riskwatch.alerts.feed.options import ApiOptions
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.settings import Settings
from riskwatch.contracts import Level
from tests.api_support import GAS, STREET, T0, RecordingPublisher, Tokens, api_warning, bearer, make_tokens, sqlite_store
from tests.servers import serve
from tests.store_contract import save

GUARD = 20.0  # seconds: only a guard against a hung test, never a synchronisation


@dataclass
class Server:
    url: str
    store: WarningStore
    clock: ManualClock
    tokens: Tokens


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    clock = ManualClock(T0)
    store = sqlite_store(str(tmp_path / "rw.db"), clock)
    tokens = make_tokens(store)
    options = ApiOptions(poll_interval=0.05, health_interval=3600)
    app = create_app(Settings(database_url=str(store.url)), store=store, feedback_publisher=RecordingPublisher(), options=options)
    with serve(app) as url:
        yield Server(url, store, clock, tokens)
    store.close()


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) of each server-sent event; comments such as pings are skipped."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


async def next_event(events: AsyncIterator[tuple[str, dict[str, Any]]], kind: str) -> dict[str, Any]:
    """The next event of `kind` (others, e.g. health, are passed over)."""
    async with asyncio.timeout(GUARD):
        async for name, data in events:
            if name == kind:
                return data
    raise AssertionError(f"the stream ended before a {kind!r} event")


async def test_a_warning_saved_after_connecting_arrives(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=GUARD) as client:
        async with client.stream("GET", "/api/stream", params={"token": server.tokens.commander}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            await asyncio.to_thread(save, server.store, api_warning())
            view = await next_event(events, "warning")
    assert (view["warning_id"], view["colour"], view["status"]) == ("w-api-1", "yellow", "new")
    assert view["disposal"]["tier"] == "grid"
    assert "联系人张三反映整栋楼停水" in view["explanation"]


async def test_operators_receive_only_their_department_and_analysts_masked_views(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=GUARD) as client:
        gas_stream = client.stream("GET", "/api/stream", headers=bearer(server.tokens.other_operator))
        analyst_stream = client.stream("GET", "/api/stream", headers=bearer(server.tokens.analyst))
        async with gas_stream as gas_response, analyst_stream as analyst_response:
            gas_events, analyst_events = sse_events(gas_response), sse_events(analyst_response)
            await asyncio.to_thread(save, server.store, api_warning())  # water: not for the gas operator
            gas = api_warning(warning_id="w-api-gas", category="gas_supply", category_name="燃气", department=GAS)
            await asyncio.to_thread(save, server.store, gas)
            first_for_gas = await next_event(gas_events, "warning")
            first_for_analyst = await next_event(analyst_events, "warning")
    assert first_for_gas["warning_id"] == "w-api-gas"
    assert first_for_analyst["warning_id"] == "w-api-1"
    assert first_for_analyst["region_code"] == STREET
    assert not any("张三" in line for line in first_for_analyst["explanation"])


async def test_transitions_and_escalations_are_streamed(server: Server) -> None:
    await asyncio.to_thread(save, server.store, api_warning(level=Level.I))  # acknowledge within 5 minutes
    async with httpx.AsyncClient(base_url=server.url, timeout=GUARD) as client:
        async with client.stream("GET", "/api/stream", headers=bearer(server.tokens.operator)) as response:
            events = sse_events(response)
            server.clock.advance(timedelta(minutes=6))
            assert await asyncio.to_thread(server.store.disposals.check_deadlines)  # as a worker's round does
            escalation = await next_event(events, "escalation")
            acted = await client.post(
                "/api/warnings/w-api-1/actions/acknowledge", json={"reason": "迟到确认"}, headers=bearer(server.tokens.operator)
            )
            assert acted.status_code == 201
            transition = await next_event(events, "transition")
    assert (escalation["warning_id"], escalation["deadline"], escalation["tier_to"]) == ("w-api-1", "acknowledge", "street")
    assert (transition["to_status"], transition["actor"], transition["reason"]) == ("acknowledged", "供水值班员", "迟到确认")


async def test_public_tokens_may_not_subscribe(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=GUARD) as client:
        response = await client.get("/api/stream", params={"token": server.tokens.public})
        assert response.status_code == 403
        assert (await client.get("/api/stream")).status_code == 401


async def test_idle_streams_get_ping_comments(tmp_path: Path) -> None:
    store = sqlite_store(str(tmp_path / "rw.db"), ManualClock(T0))
    tokens = make_tokens(store)
    options = ApiOptions(poll_interval=3600, health_interval=3600, ping_interval=0.05)
    app = create_app(Settings(database_url=str(store.url)), store=store, feedback_publisher=RecordingPublisher(), options=options)
    try:
        with serve(app) as url:
            async with httpx.AsyncClient(base_url=url, timeout=GUARD) as client:
                async with client.stream("GET", "/api/stream", headers=bearer(tokens.analyst)) as response:
                    async with asyncio.timeout(GUARD):
                        first_line = await anext(aiter(response.aiter_lines()))
    finally:
        store.close()
    assert first_line == ": ping"


async def test_analysts_get_transition_reasons_redacted_and_unmasked_deliveries_are_audited(server: Server) -> None:
    await asyncio.to_thread(save, server.store, api_warning())
    async with httpx.AsyncClient(base_url=server.url, timeout=GUARD) as client:
        analyst_stream = client.stream("GET", "/api/stream", headers=bearer(server.tokens.analyst))
        commander_stream = client.stream("GET", "/api/stream", headers=bearer(server.tokens.commander))
        async with analyst_stream as analyst_response, commander_stream as commander_response:
            analyst_events, commander_events = sse_events(analyst_response), sse_events(commander_response)
            acted = await client.post(
                "/api/warnings/w-api-1/actions/acknowledge",
                json={"reason": "联系人张三 13812345678 已到场"},
                headers=bearer(server.tokens.operator),
            )
            assert acted.status_code == 201
            masked = await next_event(analyst_events, "transition")
            await asyncio.to_thread(save, server.store, api_warning(warning_id="w-api-3"))
            await next_event(commander_events, "warning")
    assert masked["reason"] == "联系人[姓名] [电话] 已到场"
    reads = await asyncio.to_thread(server.store.audit_log.entries, actor="指挥长")
    assert [(e.action, e.target) for e in reads] == [("read.warning", "w-api-3"), ("read.stream", "/api/stream")]
    assert await asyncio.to_thread(server.store.audit_log.entries, actor="分析员") == []

"""The real API served by uvicorn on a free 127.0.0.1 port from a thread, for tests that need a
socket (httpx's in-process transport buffers whole responses, so SSE needs one, as does a browser).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

__all__ = ["serve"]


class _Server(uvicorn.Server):
    """A uvicorn server that says when its startup (including the app's lifespan) is done."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(app: FastAPI, startup_timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` on a free 127.0.0.1 port from a thread; yields the base URL ending in '/'."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = _Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    if not server.ready.wait(startup_timeout) or server.should_exit:
        server.should_exit = True
        thread.join(startup_timeout)
        raise RuntimeError(f"the API did not start on 127.0.0.1:{port} within {startup_timeout} s")
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(startup_timeout)

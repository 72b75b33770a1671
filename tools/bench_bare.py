"""The yardstick: a bare Faust agent that only decodes each raw record's JSON.

`riskwatch bench` runs it beside the real pipeline on the same broker and input, so the
pipeline's speed is reported as a ratio to what Faust alone does on this machine.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import faust

from riskwatch.config.settings import Settings
from riskwatch.contracts import topics as T
from riskwatch.streams.app import faust_settings


def create_bare_app(settings: Settings) -> faust.App:
    app = faust.App(settings.app_id, **faust_settings(settings))
    raw_in = app.topic(
        T.RAW_HOTLINE.name, T.RAW_POLICE.name, T.RAW_SENSOR.name,
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
    )

    @app.agent(raw_in, name="bare.decode")
    async def decode(stream: Any) -> None:
        async for value in stream:
            json.loads(value)

    return app


def main() -> None:
    """Run the bare worker, configured by RISKWATCH_* variables like the real one."""
    sys.argv = [sys.argv[0]]
    faust.Worker(create_bare_app(Settings()), loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()

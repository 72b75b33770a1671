"""Run the Faust worker: make sure the topics exist, then consume until stopped; each partition's
state is restored from the store on its first record (`streams/partition_state.py`)."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import faust

from riskwatch.config.loader import load_city_config
from riskwatch.config.settings import Settings
from riskwatch.streams.admin import create_topics
from riskwatch.streams.app import PipelineApp, create_app

log = logging.getLogger(__name__)


def worker_env(settings: Settings) -> dict[str, str]:
    """The environment of a child worker process: ours, with `settings` as RISKWATCH_* variables."""
    env = dict(os.environ)
    env.update(
        RISKWATCH_BROKER=settings.broker,
        RISKWATCH_DATABASE_URL=settings.database_url,
        RISKWATCH_DATA_DIR=str(settings.data_dir),
        RISKWATCH_APP_ID=settings.app_id,
        RISKWATCH_PARTITIONS=str(settings.partitions),
        RISKWATCH_SNAPSHOT_EVERY_S=str(settings.snapshot_every_s),
        RISKWATCH_DEADLINE_CHECK_EVERY_S=str(settings.deadline_check_every_s),
        RISKWATCH_HEALTH_EVERY_S=str(settings.health_every_s),
    )
    if settings.config_dir:
        env["RISKWATCH_CONFIG_DIR"] = str(settings.config_dir)
    return env


def ready_file(settings: Settings) -> Path:
    """Written with the worker's pid once it has joined its group and is consuming."""
    return settings.data_dir / "worker.ready"


class ReadyWorker(faust.Worker):
    """A Faust worker that tells other processes (the demo, tests, health checks) it is ready."""

    def __init__(self, pipeline: PipelineApp, ready_path: Path, **kwargs: Any) -> None:
        super().__init__(pipeline.app, **kwargs)
        self._ready_path = ready_path
        self._save_state = pipeline.save_state
        self._store_retry = pipeline.store_retry

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        self._ready_path.parent.mkdir(parents=True, exist_ok=True)
        self._ready_path.write_text(str(os.getpid()), encoding="ascii")

    async def on_stop(self) -> None:
        """Before the app stops: end store retries, or Faust would wait for their records for ever."""
        self._store_retry.stop()
        with contextlib.suppress(FileNotFoundError):
            self._ready_path.unlink()
        await super().on_stop()

    async def on_shutdown(self) -> None:
        """After the agents have stopped: snapshot each partition's detector and grader state."""
        await self._save_state()
        await super().on_shutdown()


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Blocks until SIGINT/SIGTERM; Faust commits what it processed before it exits."""
    config = load_city_config(settings.config_dir)
    create_topics(settings.bootstrap_servers, settings.partitions, settings.replication_factor, settings)
    pipeline = create_app(settings, config)
    ready = ready_file(settings)
    with contextlib.suppress(FileNotFoundError):
        ready.unlink()
    ReadyWorker(pipeline, ready, loglevel=loglevel, quiet=True).execute_from_commandline()

"""Run the Faust worker: make sure the topics exist, then consume until stopped."""

from __future__ import annotations

import faust

from riskwatch.config.loader import load_city_config
from riskwatch.settings import Settings
from riskwatch.streams.admin import create_topics
from riskwatch.streams.app import create_app


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    """Blocks until SIGINT/SIGTERM; Faust commits what it processed before it exits."""
    config = load_city_config(settings.config_dir)
    create_topics(settings.bootstrap_servers, settings.partitions, settings.replication_factor, settings)
    app = create_app(settings, config)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()

"""Run throwaway services for local development and CI.

\b
    python -m riskwatch.tools.devservices kafka      # prints RISKWATCH_BROKER=127.0.0.1:PORT
    python -m riskwatch.tools.devservices postgres   # prints RISKWATCH_DATABASE_URL=...
    python -m riskwatch.tools.devservices fetch      # only download the Kafka jars

``kafka`` and ``postgres`` run until Ctrl-C or SIGTERM, then clean up.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from typing import Annotated, Optional

import typer

__all__ = ["app", "main"]

PROG = "python -m riskwatch.tools.devservices"

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)

Version = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option("--version", help="Kafka version (default: $RISKWATCH_KAFKA_VERSION or built-in)"),
]


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve(start: Callable[[], str], stop: Callable[[], None], alive: Callable[[], bool],
           env_name: str) -> int:
    """Start a service, print its address as ``NAME=value``, block until interrupted."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)  # even if inherited as ignored (`cmd &`)
    try:
        address = start()
        print(f"{env_name}={address}", flush=True)
        print("Running; press Ctrl-C to stop.", file=sys.stderr, flush=True)
        while alive():
            time.sleep(0.5)
        print("service exited unexpectedly", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


@app.command("kafka")
def kafka(version: Version = None) -> None:
    """Run a single-node KRaft Kafka broker."""
    from riskwatch.tools.devservices.kafka import KafkaBroker, tail

    broker = KafkaBroker(version=version)

    def alive() -> bool:
        if broker.is_running():
            return True
        print(tail(broker.log_path), file=sys.stderr)
        return False

    raise typer.Exit(_serve(broker.start, broker.stop, alive, "RISKWATCH_BROKER"))


@app.command("postgres")
def postgres() -> None:
    """Run a throwaway PostgreSQL server."""
    from riskwatch.tools.devservices.postgres import PostgresServer

    server = PostgresServer()
    raise typer.Exit(_serve(server.start, server.stop, lambda: True, "RISKWATCH_DATABASE_URL"))


@app.command("fetch")
def fetch(version: Version = None) -> None:
    """Download the Kafka jars into the cache and exit."""
    from riskwatch.tools.devservices.kafka import fetch_kafka_jars, kafka_version

    started = time.monotonic()
    libs = fetch_kafka_jars(version)
    print(f"Kafka {version or kafka_version()} jars in {libs} "
          f"({time.monotonic() - started:.1f}s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run the dev-services command line (`argv`, default the process's arguments)."""
    app(argv if argv is not None else sys.argv[1:], prog_name=PROG)


if __name__ == "__main__":
    main()

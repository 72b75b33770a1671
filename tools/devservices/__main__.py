"""Run throwaway services for local development and CI.

    python -m riskwatch.tools.devservices kafka      # prints RISKWATCH_BROKER=127.0.0.1:PORT
    python -m riskwatch.tools.devservices postgres   # prints RISKWATCH_DATABASE_URL=...
    python -m riskwatch.tools.devservices fetch      # only download the Kafka jars

``kafka`` and ``postgres`` run until Ctrl-C or SIGTERM, then clean up.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable

from riskwatch.tools.devservices.kafka import KafkaBroker, fetch_kafka_jars, kafka_version, tail
from riskwatch.tools.devservices.postgres import PostgresServer


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


def cmd_kafka(args: argparse.Namespace) -> int:
    broker = KafkaBroker(version=args.version)

    def alive() -> bool:
        if broker.is_running():
            return True
        print(tail(broker.log_path), file=sys.stderr)
        return False

    return _serve(broker.start, broker.stop, alive, "RISKWATCH_BROKER")


def cmd_postgres(args: argparse.Namespace) -> int:
    server = PostgresServer()
    return _serve(server.start, server.stop, lambda: True, "RISKWATCH_DATABASE_URL")


def cmd_fetch(args: argparse.Namespace) -> int:
    started = time.monotonic()
    libs = fetch_kafka_jars(args.version)
    print(f"Kafka {args.version or kafka_version()} jars in {libs} "
          f"({time.monotonic() - started:.1f}s)", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m riskwatch.tools.devservices", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    kafka = sub.add_parser("kafka", help="run a single-node KRaft Kafka broker")
    kafka.add_argument("--version", help="Kafka version (default: $RISKWATCH_KAFKA_VERSION or built-in)")
    kafka.set_defaults(func=cmd_kafka)
    postgres = sub.add_parser("postgres", help="run a throwaway PostgreSQL server")
    postgres.set_defaults(func=cmd_postgres)
    fetch = sub.add_parser("fetch", help="download the Kafka jars into the cache and exit")
    fetch.add_argument("--version", help="Kafka version (default: $RISKWATCH_KAFKA_VERSION or built-in)")
    fetch.set_defaults(func=cmd_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""`riskwatch bench`: the command; the bench itself (`bench.py`: Kafka clients, simulator, worker) loads when it runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer

from riskwatch.tools.cli_settings import settings as settings_for

__all__ = ["bench_command", "register"]


def bench_command(
    events: Annotated[int, typer.Option("--events", "-n", min=1, help="Raw messages to process (N)")] = 20_000,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the topics the bench creates")] = 4,
    scenario: Annotated[str, typer.Option(help="Scenario to simulate (on later days again if N needs it)")] = "quiet_day",
    broker: Annotated[str | None, typer.Option(
        "--broker", help="Use this FRESH Kafka (HOST:PORT): its riskwatch topics must be empty")] = None,
    kafka: Annotated[bool, typer.Option(
        "--kafka", help="Start a throwaway Apache Kafka for the run (needs java and mvn)")] = False,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds each worker may take")] = 600.0,
    workers: Annotated[int, typer.Option(
        min=1, help="Pipeline worker processes sharing the input (one consumer group; at most --partitions)")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    latency: Annotated[bool, typer.Option(
        "--latency", help="Then measure event-to-warning latency p50/p99 on a paced scenario (adds ~1 min)")] = False,
    latency_scenario: Annotated[str, typer.Option(help="Scenario sent paced for --latency")] = "gas_leak",
    latency_seconds: Annotated[float, typer.Option(
        min=1.0, help="About how many wall seconds --latency sends for")] = 60.0,
    latency_load: Annotated[float, typer.Option(
        min=0.01, max=1.0, help="--latency input rate as a share of the pipeline's measured events/s")] = 0.5,
) -> None:
    """Events/s of the full pipeline vs a bare Faust agent on the same broker and input (default: embedded Tansu);
    with --latency, also event-to-warning latency p50/p99 at a paced input rate."""
    from kafka.errors import KafkaError

    from riskwatch.tools.bench import LatencyOptions, format_table, run_bench

    if broker and kafka:
        raise typer.BadParameter("give either --broker or --kafka, not both")

    def emit(text: str) -> None:
        typer.echo(text, err=True)

    stopper: Callable[[], None] | None = None
    try:
        if broker:
            settings = settings_for(broker=broker)
            bootstrap, label = settings.bootstrap_servers, f"Kafka at {settings.bootstrap_servers}"
        elif kafka:
            from riskwatch.tools.devservices.kafka import KafkaBroker, KafkaUnavailable

            real = KafkaBroker()
            emit(f"starting Apache Kafka {real.version} …")
            try:
                bootstrap = real.start()
            except KafkaUnavailable as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from exc
            stopper, label = real.stop, f"Apache Kafka {real.version} at {bootstrap} (started for the run)"
        else:
            from riskwatch.tools.embedded_broker import EmbeddedBroker

            embedded = EmbeddedBroker()
            bootstrap = embedded.start()
            stopper, label = embedded.stop, f"embedded Tansu at {bootstrap}"
        emit(f"broker: {label}")
        options = LatencyOptions(latency_scenario, latency_seconds, latency_load) if latency else None
        result = run_bench(bootstrap, label, events, partitions, scenario, settings_for(), timeout, emit, latency=options,
                           workers=workers)
    except (RuntimeError, KafkaError) as exc:  # BenchError, broker start failures, Kafka errors
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        if stopper is not None:
            stopper()
    typer.echo(json.dumps(result.as_dict(), indent=2) if as_json else format_table(result))


def register(app: typer.Typer) -> None:
    """Add `bench` to the `riskwatch` command."""
    app.command("bench")(bench_command)

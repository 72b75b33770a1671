"""Operator commands: `topics create|describe`, `tail TOPIC`, `schema export`.

Kafka clients and the record models load when a command runs, not when the CLI starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from riskwatch.tools.check_cli import DEFAULT_SAMPLE
from riskwatch.tools.cli_settings import settings as settings_for

if TYPE_CHECKING:
    from riskwatch.config.settings import Settings
    from riskwatch.streams.admin import TopicReport
    from riskwatch.streams.key_check import TopicFindings

__all__ = ["export_schemas", "register"]

T = TypeVar("T")

BrokerOpt = Annotated[
    str | None, typer.Option("--broker", help="Kafka bootstrap host:port[,…]; default RISKWATCH_BROKER")
]
_COLOURS = {"red": typer.colors.RED, "orange": typer.colors.BRIGHT_RED,
            "yellow": typer.colors.YELLOW, "blue": typer.colors.BLUE}


def _kafka(call: Callable[[], T]) -> T:
    """Run a Kafka call; a broker error becomes a one-line message and exit code 1."""
    from kafka.errors import KafkaError

    try:
        return call()
    except KafkaError as exc:
        text = str(exc) if str(exc).startswith(type(exc).__name__) else f"{type(exc).__name__}: {exc}"
        typer.secho(f"kafka error: {text}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc


def topics_create(
    partitions: Annotated[int | None, typer.Option(min=1, help="Default RISKWATCH_PARTITIONS")] = None,
    replication_factor: Annotated[
        int | None, typer.Option(min=1, help="Default RISKWATCH_REPLICATION_FACTOR")
    ] = None,
    broker: BrokerOpt = None,
) -> None:
    """Create every riskwatch topic that does not exist yet (safe to run again)."""
    from riskwatch.contracts.topics import ALL_TOPICS
    from riskwatch.streams import admin

    s = settings_for(broker=broker)
    created = _kafka(lambda: admin.create_topics(
        s.bootstrap_servers, partitions or s.partitions, replication_factor or s.replication_factor, s))
    for spec in ALL_TOPICS:
        typer.echo(f"{'created' if spec.name in created else 'exists '}  {spec.name}")


def _key_findings(s: Settings, reports: list[TopicReport], per_partition: int) -> dict[str, TopicFindings]:
    """`riskwatch check`'s findings for the raw topics that exist; none if skipped or unreadable."""
    from kafka.errors import KafkaError

    from riskwatch.contracts.topics import RAW_TOPICS
    from riskwatch.streams.key_sample import check_raw_topics

    existing = {r.name for r in reports if r.exists}
    raw = {source: spec.name for source, spec in RAW_TOPICS.items() if spec.name in existing}
    if not per_partition or not raw:
        return {}
    try:
        report = check_raw_topics(s.bootstrap_servers, s, raw, per_partition)
    except KafkaError as exc:
        typer.secho(f"key check skipped: {type(exc).__name__}: {exc}", err=True, fg=typer.colors.YELLOW)
        return {}
    return {f.topic: f for f in report.topics}


def topics_describe(
    broker: BrokerOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    key_sample: Annotated[int, typer.Option(
        "--key-sample", min=0, help="Records read from the end of each raw partition to check keys (0: skip)",
    )] = DEFAULT_SAMPLE,
) -> None:
    """Partitions, replication, configs, message counts and consumer lag of every topic; key warnings of the raw topics."""
    from riskwatch.streams import admin

    s = settings_for(broker=broker)
    reports = _kafka(lambda: admin.describe_topics(s.bootstrap_servers, s))
    keys = _key_findings(s, reports, key_sample)
    if as_json:
        dumped = [r.model_dump(mode="json") for r in reports]
        for entry in dumped:
            if entry["name"] in keys:
                entry["key_check"] = keys[entry["name"]].model_dump(mode="json")
        typer.echo(json.dumps(dumped, indent=2))
        return
    for r in reports:
        if not r.exists:
            typer.secho(f"{r.name}: MISSING (run `riskwatch topics create`)", fg=typer.colors.RED)
            continue
        typer.secho(f"{r.name}", bold=True)
        typer.echo(f"  key: {r.key}   value: {r.value}")
        typer.echo(f"  partitions: {r.partitions}   replication: {r.replication_factor}   "
                   f"messages: {r.messages}   end offsets: {r.end_offsets}")
        typer.echo("  configs: " + (", ".join(f"{k}={v}" for k, v in sorted(r.configs.items())) or "(not reported by this broker)"))
        for key, (want, got) in r.config_drift.items():
            typer.secho(f"  drift: {key}={got} (expected {want})", fg=typer.colors.YELLOW)
        for g in r.groups:
            typer.echo(f"  group {g.group}: lag {g.total_lag}   committed {g.committed}   lag/partition {g.lag}")
        if (found := keys.get(r.name)) is not None:
            for line in found.lines("problem", "note"):
                typer.secho(f"  key warning: {line}", fg=typer.colors.YELLOW)
            if found.ok and found.records:
                typer.echo(f"  keys: every {found.natural_key} in one partition ({found.records} recent records checked)")


def tail_cmd(
    topic: Annotated[str, typer.Argument(help="Topic to print, e.g. riskwatch.warnings")],
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Start at the oldest record")] = False,
    max_messages: Annotated[int | None, typer.Option("--max", min=1, help="Stop after N records")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0, help="Stop after S idle seconds")] = None,
    group: Annotated[str | None, typer.Option(help="Consumer group (commits offsets); default none")] = None,
    broker: BrokerOpt = None,
) -> None:
    """Print a topic as it fills: warnings readably, other records as pretty JSON."""
    from riskwatch.streams import admin

    s = settings_for(broker=broker)

    def run() -> None:
        for msg in admin.tail(s.bootstrap_servers, topic, from_beginning, max_messages, timeout, group, s):
            head, _, body = msg.text.partition("\n")
            typer.secho(head, fg=_COLOURS.get(msg.colour or ""), bold=msg.colour is not None)
            typer.echo(body)

    _kafka(run)


def export_schemas(out: Path) -> list[Path]:
    """Write `<name>.schema.json` for every boundary model and an `index.json`; return the paths."""
    from riskwatch.contracts.schemas import BOUNDARY_MODELS
    from riskwatch.contracts.topics import ALL_TOPICS

    out.mkdir(parents=True, exist_ok=True)
    topics_of = {name: [t.name for t in ALL_TOPICS if t.value.split()[0] == name] for name in BOUNDARY_MODELS}
    written, index = [], []
    for name, model in BOUNDARY_MODELS.items():
        schema = model.model_json_schema()
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{name}.schema.json", **schema}
        path = out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
        doc = (model.__doc__ or "").strip().splitlines()
        index.append({"name": name, "file": path.name, "title": schema.get("title", model.__name__),
                      "description": doc[0] if doc else "", "topics": topics_of[name]})
    index_path = out / "index.json"
    index_path.write_text(json.dumps({"schemas": index}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [*written, index_path]


def schema_export(
    out: Annotated[Path, typer.Option("--out", help="Directory to write into")] = Path("schemas"),
) -> None:
    """Write one JSON Schema file per record type on riskwatch topics, plus index.json."""
    for path in export_schemas(out):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add `topics`, `tail` and `schema` commands to the riskwatch CLI."""
    topics = typer.Typer(help="Create and inspect riskwatch Kafka topics.", no_args_is_help=True)
    topics.command("create")(topics_create)
    topics.command("describe")(topics_describe)
    app.add_typer(topics, name="topics")
    app.command("tail")(tail_cmd)
    schema = typer.Typer(help="JSON Schemas of the records on riskwatch topics.", no_args_is_help=True)
    schema.command("export")(schema_export)
    app.add_typer(schema, name="schema")

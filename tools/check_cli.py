"""Operator command `riskwatch check`: are the raw topics keyed so each device's records stay in one partition?

Exit status: 0 clean, 1 a raw topic has records without a key or a natural key in more than one
partition, 2 the check could not run (broker unreachable, Kafka error, bad option). Kafka
clients and the findings' models load when the command runs, not when the CLI starts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from riskwatch.tools.cli_settings import settings as settings_for

if TYPE_CHECKING:
    from riskwatch.config.settings import Settings
    from riskwatch.streams.key_check import CheckReport, TopicFindings

__all__ = ["DEFAULT_SAMPLE", "SOURCES", "format_findings", "parse_topics", "register", "run_check"]

#: Records read from the end of each partition (streams/key_sample.DEFAULT_PER_PARTITION).
DEFAULT_SAMPLE = 2000
#: The raw sources by name (contracts.raw.Source), spelled out so `--help` needs no models.
SOURCES = ("hotline", "police", "sensor")
#: Exit status when the check could not run.
CANNOT_CHECK = 2

_STYLE = {"problem": ("PROBLEM", typer.colors.RED), "note": ("note", typer.colors.YELLOW), "info": ("info", None)}


def parse_topics(specs: list[str]) -> dict[str, str | None]:
    """`SOURCE` or `SOURCE=TOPIC` options → source name → topic name (None: the standard one)."""
    chosen: dict[str, str | None] = {}
    for spec in specs:
        source, sep, name = spec.partition("=")
        source = source.strip()
        if source not in SOURCES:
            raise typer.BadParameter(f"{source!r} is not a raw source; one of {', '.join(SOURCES)}", param_hint="--topic")
        if sep and not name.strip():
            raise typer.BadParameter(f"{spec!r}: give a topic name after '='", param_hint="--topic")
        chosen[source] = name.strip() if sep else None
    return chosen


def format_findings(findings: TopicFindings, per_partition: int) -> list[tuple[str, str | None]]:
    """One topic's findings as (line, colour) pairs for the terminal."""
    from riskwatch.streams.key_check import NOUNS

    f = findings
    lines: list[tuple[str, str | None]] = [(f"{f.topic}  ({f.source.value}; key should be {f.natural_key})", None)]
    if f.exists and f.records:
        sampled = (f"  sampled: {f.records} records from {f.partitions} partition{'s' * (f.partitions != 1)} "
                   f"(the last {per_partition} of each)")
        keys = (f"  keys: none {f.unkeyed} ({f.unkeyed_share:.0%})   {f.natural_key} {f.keyed_natural}   "
                f"other {f.keyed_other}   no readable {f.natural_key} {f.unreadable}")
        spread = f"  {NOUNS[f.source][1]}: {f.natural_keys}, in more than one partition: {f.scattered}"
        lines += [(sampled, None), (keys, None), (spread, None)]
    for finding in f.findings:
        label, colour = _STYLE[finding.severity]
        lines.append((f"  {label}: {finding.text}", colour))
    if f.exists and f.records and f.ok:
        lines.append((f"  ok: every {f.natural_key} stays in one partition", typer.colors.GREEN))
    return lines


def run_check(
    bootstrap: str, settings: Settings, topics: dict[str, str | None], per_partition: int,
    connect_timeout_s: float, read_timeout_s: float,
) -> CheckReport:
    """Sample and judge the chosen raw topics; a Kafka failure becomes a message and exit 2."""
    from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

    from riskwatch.contracts import Source
    from riskwatch.contracts.topics import RAW_TOPICS
    from riskwatch.streams.key_sample import check_raw_topics

    names = {Source(s): name or RAW_TOPICS[Source(s)].name for s, name in topics.items()} if topics else None
    try:
        return check_raw_topics(bootstrap, settings, names, per_partition, connect_timeout_s, read_timeout_s)
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        typer.secho(f"cannot reach the Kafka broker at {bootstrap} ({exc}); check --broker or RISKWATCH_BROKER",
                    err=True, fg=typer.colors.RED)
        raise typer.Exit(CANNOT_CHECK) from exc
    except KafkaError as exc:
        typer.secho(f"kafka error while reading {bootstrap}: {type(exc).__name__}: {exc}", err=True,
                    fg=typer.colors.RED)
        raise typer.Exit(CANNOT_CHECK) from exc


def check_cmd(
    topic: Annotated[list[str] | None, typer.Option(
        "--topic", metavar="SOURCE[=TOPIC]",
        help="Check only this source (hotline, police, sensor), optionally on another topic name; repeatable",
    )] = None,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Records read from the end of each partition")]
        = DEFAULT_SAMPLE,
    broker: Annotated[str | None, typer.Option(
        "--broker", help="Kafka bootstrap host:port[,…]; default RISKWATCH_BROKER")] = None,
    connect_timeout: Annotated[float, typer.Option("--connect-timeout", min=0.1, help="Seconds to wait for the broker")]
        = 10.0,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds reading may take in all")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Check the raw topics' keys: records without a key, and devices (orders, incidents) spread over partitions.

    Exit 0 when clean, 1 when records lack a key or one device's records are in several partitions, 2 when the broker cannot be reached.
    """
    chosen = parse_topics(topic or [])
    s = settings_for(broker=broker)
    report = run_check(s.bootstrap_servers, s, chosen, sample, connect_timeout, timeout)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        for findings in report.topics:
            for i, (line, colour) in enumerate(format_findings(findings, sample)):
                typer.secho(line, fg=colour, bold=i == 0)
        bad = [t.topic for t in report.topics if not t.ok]
        if bad:
            typer.secho(f"check: {len(bad)} of {len(report.topics)} raw topics need their producers fixed: "
                        f"{', '.join(bad)}", fg=typer.colors.RED)
        else:
            judged = sum(1 for t in report.topics if t.records)
            typer.secho(f"check: no key problem ({judged} of {len(report.topics)} raw topics had records to judge)",
                        fg=typer.colors.GREEN)
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `check` to the riskwatch CLI."""
    app.command("check")(check_cmd)

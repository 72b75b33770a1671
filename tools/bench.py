"""`riskwatch bench`: events/s through the full pipeline against a bare Faust agent.

One broker, one input, two runs:

1. The simulator's output (default scenario `quiet_day`, repeated on following days with fresh
   ids until there are `--events` messages) is produced to the raw topics before any consumer
   starts.
2. Run A: the bare worker (`python -m riskwatch.tools.bench_bare`, which only json-decodes each raw
   record) consumes it with a fresh consumer group.
3. Run B: the real worker (`python -m riskwatch.tools worker`) consumes the same records with another
   fresh group and a throwaway SQLite store; it is done once the raw topics are consumed and the
   group has no lag left on the events, signals and warnings topics.

With `--latency`, a third phase measures event-to-warning latency: the pipeline worker of run B
is started again (same group, state and store, so it resumes at the end of the input) and a
scenario (default `gas_leak`, moved to after the input's days) is sent at a steady pace while it
runs; see `bench_latency.py` for what is measured and why that way.

Both throughput runs are timed the same way, from outside, on how far each worker has
processed (polled every 0.2 s): from the first poll that shows progress to the first poll that
shows everything done. Worker start-up and group join are therefore not counted; the rate is
the records consumed in that window divided by its length. The bare worker's progress is its
group's committed offsets (Faust commits every second). The pipeline commits events and
signals only after a snapshot of their partitions' state (every `RISKWATCH_SNAPSHOT_EVERY_S`,
30 s by default), so its committed offsets would time the snapshot cadence, not the work: its
progress is the per-partition "processed" offsets of its health snapshot, written every 0.5 s
in the bench (`RISKWATCH_HEALTH_EVERY_S`). Either window can end up to ~1.2 s after the last
record was processed: use a large `--events` for steady-state figures.

The pipeline reads fixed topic names, so the broker must be fresh: with `--broker` the raw,
events, signals and warnings topics must be empty, or the bench refuses to run.

End offsets come from what the broker acknowledged (raw topics) and from Fetch high watermarks
(output topics), never from ListOffsets: the embedded Tansu answers ListOffsets(latest) with the
last record batch's base offset + 1, not the end of the log.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from riskwatch.config.loader import CityConfig, ConfigError, load_city_config
from riskwatch.config.settings import Settings
from riskwatch.contracts import topics as T
from riskwatch.simulator.generate import simulate
from riskwatch.simulator.scenario import Scenario, load_scenario
from riskwatch.simulator.sinks import Outgoing, encode, producer_options
from riskwatch.streams.admin import Offsets, client_kwargs, create_topics
from riskwatch.streams.worker import worker_env
from riskwatch.tools.bench_latency import (
    LatencyError,
    LatencyResult,
    LatencyStats,
    StoreWatcher,
    event_ids,
    match,
    pace_for,
    produce_paced,
    read_range,
    send_probe,
    shifted_after,
    wait_for_probe,
    window,
)
from riskwatch.tools.demo import stop_worker

RAW_NAMES = [spec.name for spec in T.RAW_TOPICS.values()]
DOWNSTREAM_NAMES = [T.EVENTS.name, T.SIGNALS.name, T.WARNINGS.name]
OUTPUT_NAMES = [T.EVENTS.name, T.SIGNALS.name, T.WARNINGS.name, T.DEADLETTER.name]
POLL_S = 0.2
#: Seconds between the pipeline worker's health snapshots during the bench (its progress; see above).
HEALTH_EVERY_S = 0.5
CLIENT_ID = "riskwatch-bench"

Emit = Callable[[str], None]


class BenchError(RuntimeError):
    """The bench cannot run or a worker failed; the message says why."""


# --------------------------------------------------------------------------- input


def shifted(scenario: Scenario, copy: int) -> Scenario:
    """The scenario moved `copy` whole-day blocks later with another seed: same shape, new ids.

    Work-order and incident ids carry the day and sensor readings their timestamp, so copies
    on different days never share an id or a (device, time) pair.
    """
    if copy == 0:
        return scenario
    days = max(1, math.ceil(scenario.duration / timedelta(days=1)))
    delta = timedelta(days=days * copy)
    return scenario.model_copy(update={
        "start": scenario.start + delta,
        "seed": scenario.seed + copy,
        "incidents": [i.model_copy(update={"start": i.start + delta}) for i in scenario.incidents],
        "realism": scenario.realism.model_copy(update={
            "gateway_outages": [o.model_copy(update={"start": o.start + delta})
                                for o in scenario.realism.gateway_outages],
        }),
    })


def bench_input(scenario: Scenario, n: int, city: CityConfig | None = None) -> tuple[list[Outgoing], int]:
    """The first `n` messages of the scenario and as many later copies of it as needed; and the copies used."""
    items: list[Outgoing] = []
    copies = 0
    while len(items) < n:
        batch = encode(simulate(shifted(scenario, copies), city))
        if not batch:
            raise BenchError(f"scenario {scenario.name!r} produces no messages")
        items.extend(batch)
        copies += 1
    return items[:n], copies


Written = dict[TopicPartition, tuple[int, int]]


async def produce(bootstrap: str, items: Sequence[Outgoing], settings: Settings) -> tuple[float, Written]:
    """Send every message (batched, acks=all); return the seconds it took and, per partition written,
    the first offset and the offset after the last, as the broker acknowledged them."""
    from aiokafka import AIOKafkaProducer

    started = time.perf_counter()
    written: Written = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=256 * 1024, **producer_options(settings))
    await producer.start()

    async def settle(pending: list[Any]) -> None:
        for meta in await asyncio.gather(*pending):
            tp = TopicPartition(meta.topic, meta.partition)
            low, high = written.get(tp, (meta.offset, meta.offset + 1))
            written[tp] = (min(low, meta.offset), max(high, meta.offset + 1))
        pending.clear()

    try:
        pending: list[Any] = []
        for item in items:
            pending.append(await producer.send(item.topic, item.value, key=item.key))
            if len(pending) >= 5000:
                await settle(pending)
        await settle(pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started, written


# --------------------------------------------------------------------------- offsets


class HighWater:
    """End offsets of some partitions as Fetch responses report them (exact on every broker).

    Reads forward from the given positions, so start it where little is left to read.
    """

    def __init__(self, bootstrap: str, settings: Settings, positions: dict[TopicPartition, int]) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, client_id=CLIENT_ID, group_id=None,
                                      enable_auto_commit=False, auto_offset_reset="earliest",
                                      fetch_max_wait_ms=50, **client_kwargs(settings))
        self.tps = list(positions)
        self.consumer.assign(self.tps)
        for tp, offset in positions.items():
            self.consumer.seek(tp, offset)

    def ends(self, wait_s: float = 5.0) -> dict[TopicPartition, int] | None:
        """Read what is there; the end offsets once every partition is read up to its high watermark."""
        deadline = time.monotonic() + wait_s
        while True:
            got = self.consumer.poll(timeout_ms=50)
            marks = {tp: self.consumer.highwater(tp) for tp in self.tps}
            if not got and all(m is not None and self.consumer.position(tp) >= m for tp, m in marks.items()):
                return {tp: int(m) for tp, m in marks.items() if m is not None}
            if time.monotonic() > deadline:
                return None

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def read_ends(bootstrap: str, settings: Settings, positions: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    with closing(HighWater(bootstrap, settings, positions)) as marks:
        ends = marks.ends(wait_s=60.0)
    if ends is None:
        raise BenchError("could not read the end offsets of the output topics")
    return ends


def by_topic(base: dict[TopicPartition, int], ends: dict[TopicPartition, int], topic: str) -> int:
    return sum(max(ends[tp] - base[tp], 0) for tp in ends if tp.topic == topic)


# --------------------------------------------------------------------------- runs


@dataclass
class RunResult:
    """One worker's run: records consumed and how fast."""

    name: str
    consumed: int
    window_records: int
    seconds: float
    events_per_s: float
    startup_s: float
    outputs: dict[str, int] = field(default_factory=dict)
    workers: int = 1


@dataclass
class BenchResult:
    broker: str
    bootstrap: str
    scenario: str
    copies: int
    events: int
    partitions: int
    produce_s: float
    bare: RunResult
    pipeline: RunResult
    latency: LatencyResult | None = None

    @property
    def ratio(self) -> float:
        return self.pipeline.events_per_s / self.bare.events_per_s if self.bare.events_per_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        found = {**asdict(self), "ratio": round(self.ratio, 4)}
        if self.latency is not None:
            found["latency"]["rate"] = round(self.latency.rate, 1)
        return found


def _spawn(args: list[str], settings: Settings, run_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """A worker child process configured only through RISKWATCH_* variables, logging into `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, *args], env=worker_env(settings), cwd=run_dir, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return process, log_path


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _progress(committed: dict[TopicPartition, int], written: Written) -> int:
    """Records of `written` the group consumed: committed offsets clamped to what was written, summed."""
    return sum(max(min(committed.get(tp, low), high) - low, 0) for tp, (low, high) in written.items())


def _caught_up(committed: dict[TopicPartition, int], base: dict[TopicPartition, int],
               ends: dict[TopicPartition, int]) -> bool:
    """No lag on any partition (negative lag counts as none); a partition the group never
    committed on counts from `base`."""
    return all(committed.get(tp, base[tp]) >= end for tp, end in ends.items())


@dataclass
class Downstream:
    """Partitions the pipeline must also have drained, and where they stood before it started."""

    bootstrap: str
    settings: Settings
    base: dict[TopicPartition, int]


#: Where a worker stands: per partition, the offset after the last record it has processed.
Positions = Callable[[], dict[TopicPartition, int]]


def committed_positions(offsets: Offsets, group: str) -> Positions:
    """The group's committed offsets (the bare worker commits every second)."""
    return lambda: offsets.committed(group)


@contextmanager
def processed_positions(database_url: str, app_id: str) -> Iterator[Positions]:
    """The "processed" offsets of the worker's latest health snapshots in its store ({} before
    one), read through one store connection for the whole run."""
    from riskwatch.alerts.store.store import WarningStore

    prefix = f"worker:{app_id}:"
    store = WarningStore(database_url)

    def read() -> dict[TopicPartition, int]:
        try:
            rows = [snapshot.payload for name, snapshot in store.health.latest().items() if name.startswith(prefix)]
        except Exception:  # noqa: BLE001 - the worker has not migrated its store yet
            return {}
        found: dict[TopicPartition, int] = {}
        for payload in rows:
            for topic, parts in (payload.get("processed") or {}).items():
                for partition, offset in parts.items():
                    tp = TopicPartition(topic, int(partition))
                    found[tp] = max(found.get(tp, 0), int(offset))
        return found

    try:
        yield read
    finally:
        store.close()


#: A worker child process and its log.
Spawned = tuple[subprocess.Popen[bytes], Path]


def measure(
    name: str,
    workers: Sequence[Spawned],
    positions: Positions,
    written: Written,
    downstream: Downstream | None,
    timeout_s: float,
) -> RunResult:
    """Poll the worker's `positions` until it has consumed everything `written` (and, with
    `downstream`, has no lag left there); time the window from the first progress seen to the
    first poll that finds it done (confirmed by the next poll)."""
    total = sum(high - low for low, high in written.values())
    spawned = time.monotonic()
    deadline = spawned + timeout_s
    last_idle = spawned  # the last poll that showed no progress
    t0: float | None = None
    c0 = consumed = 0
    done_at: float | None = None
    marks: HighWater | None = None
    try:
        while True:
            for process, log_path in workers:
                if process.poll() is not None:
                    raise BenchError(f"{name} worker exited with code {process.returncode}:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                tails = "\n".join(_log_tail(log_path) for _, log_path in workers)
                raise BenchError(f"{name} worker did not finish within {timeout_s:.0f}s; log:\n{tails}")
            committed = positions()
            now = time.monotonic()
            consumed = _progress(committed, written)
            if consumed == 0:
                last_idle = now
            elif t0 is None:
                t0, c0 = now, consumed
                if c0 >= total:  # all of it went by between two polls: time it from the last idle poll
                    t0, c0 = last_idle, 0
            done = consumed >= total
            if done and downstream is not None:
                # Committed offsets are read before the end offsets: if they reach ends read later,
                # nothing is left, and with the raw topics done nothing more will come.
                if marks is None:  # start reading where the group stands: only its lag is read
                    start = {tp: max(committed.get(tp, b), b) for tp, b in downstream.base.items()}
                    marks = HighWater(downstream.bootstrap, downstream.settings, start)
                ends = marks.ends()
                done = ends is not None and _caught_up(committed, downstream.base, ends)
            if done and done_at is not None:
                break
            done_at = now if done else None
            time.sleep(POLL_S)
    finally:
        if marks is not None:
            marks.close()
    assert t0 is not None and done_at is not None
    seconds = max(done_at - t0, 1e-6)
    return RunResult(name=name, consumed=consumed, window_records=total - c0, seconds=round(seconds, 3),
                     events_per_s=round((total - c0) / seconds, 1), startup_s=round(t0 - spawned, 3))


@dataclass(frozen=True)
class LatencyOptions:
    """What the latency phase sends: a window of a scenario around its first incident, paced at
    `load` × the pipeline's events/s measured in run B, for about `seconds` of wall time."""

    scenario: str = "gas_leak"
    seconds: float = 60.0
    load: float = 0.5


def run_latency(
    options: LatencyOptions,
    city: CityConfig,
    after: datetime,
    capacity: float,
    pipe_settings: Settings,
    pipe_dir: Path,
    offsets: Offsets,
    out_base: dict[TopicPartition, int],
    timeout_s: float,
    emit: Emit,
) -> LatencyResult:
    """Phase C: restart the pipeline worker, wait until it consumes, send the scenario paced, match."""
    bootstrap, settings = pipe_settings.bootstrap_servers, pipe_settings
    try:
        chosen = shifted_after(load_scenario(options.scenario, city), after)
    except ConfigError as exc:
        raise BenchError(str(exc)) from exc
    rate = max(options.load * capacity, 1.0)
    items = window(encode(simulate(chosen, city)), chosen, max(int(rate * options.seconds), 2))
    if len(items) < 2:
        raise BenchError(f"scenario {chosen.name!r} produces too few messages to pace")
    ids = event_ids(items, city)
    speed = pace_for(items, len(items) / rate)
    emit(f"latency: {len(items)} messages of {chosen.name!r} from {items[0].arrival_time:%Y-%m-%d %H:%M} at "
         f"~{rate:,.0f} msg/s ({options.load:g} × the pipeline's {capacity:,.0f} events/s; ×{speed:,.0f} simulated time)")
    by_topic_tps = {name: [tp for tp in out_base if tp.topic == name] for name in (T.WARNINGS.name, T.DEADLETTER.name)}
    process, log_path = _spawn(["-m", "riskwatch.tools", "worker"], pipe_settings, pipe_dir)
    watcher: StoreWatcher | None = None
    try:
        asyncio.run(send_probe(bootstrap, settings))
        try:
            ready_s = wait_for_probe(bootstrap, settings, {tp: out_base[tp] for tp in by_topic_tps[T.DEADLETTER.name]},
                                     timeout_s)
        except LatencyError as exc:
            raise BenchError(f"{exc}; log:\n{_log_tail(log_path)}") from exc
        emit(f"  worker consuming after {ready_s:.1f}s (probe dead-lettered); sending paced")
        warnings_from = {tp: out_base[tp] for tp in by_topic_tps[T.WARNINGS.name]}
        watcher = StoreWatcher(bootstrap, settings, pipe_settings.database_url, warnings_from)
        watcher.start()
        sent, written, send_s = asyncio.run(produce_paced(bootstrap, items, ids, speed, settings))
        downstream = Downstream(bootstrap, settings, {tp: b for tp, b in out_base.items() if tp.topic in DOWNSTREAM_NAMES})
        with processed_positions(pipe_settings.database_url, pipe_settings.app_id) as progress:
            measure("latency", [(process, log_path)], progress, written, downstream, timeout_s)
        out_end = read_ends(bootstrap, settings, out_base)
        warnings_end = {tp: out_end[tp] for tp in warnings_from}
        deadline = time.monotonic() + 30.0
        while not watcher.settled(warnings_end) and time.monotonic() < deadline and watcher.error is None:
            time.sleep(0.1)
    finally:
        if watcher is not None:
            watcher.stop()
        stop_worker(process)
    if watcher.error is not None:
        raise BenchError(f"the store watcher failed: {watcher.error}")
    signal_tps = [tp for tp in out_base if tp.topic == T.SIGNALS.name]
    signals = read_range(bootstrap, settings, {tp: out_base[tp] for tp in signal_tps}, out_end)
    warnings = read_range(bootstrap, settings, warnings_from, out_end)
    matched = match(warnings, signals, sent)
    return LatencyResult(
        scenario=chosen.name, target_rate=round(rate, 1), messages=len(items), send_seconds=round(send_s, 3), speed=round(speed, 1),
        warning_messages=matched.total, cancels=matched.cancels, unmatched=matched.unmatched,
        event_to_warning=LatencyStats.of(matched.samples_ms),
        warning_to_store=LatencyStats.of(list(watcher.visible_ms.values())),
        store_unseen=len(watcher.pending),
    )


def run_bench(
    bootstrap: str,
    broker_label: str,
    events: int = 20_000,
    partitions: int = 4,
    scenario: str = "quiet_day",
    settings: Settings | None = None,
    timeout_s: float = 600.0,
    emit: Emit = lambda _: None,
    work_dir: Path | None = None,
    latency: LatencyOptions | None = None,
    workers: int = 1,
) -> BenchResult:
    """Produce the input to a fresh broker at `bootstrap`, then time the bare worker and the pipeline
    (`workers` processes in one group) on it; with `latency`, then measure event-to-warning latency
    at a paced input rate (one worker only)."""
    if workers < 1:
        raise BenchError(f"workers must be at least 1, got {workers}")
    if workers > partitions:
        raise BenchError(f"{workers} workers cannot share {partitions} partition(s): a worker would idle")
    if latency is not None and workers != 1:
        raise BenchError("--latency measures one worker; run it without --workers")
    base_settings = (settings or Settings()).model_copy(update={"broker": bootstrap, "partitions": partitions})
    try:
        city = load_city_config(base_settings.config_dir)
        chosen = load_scenario(scenario, city)
    except ConfigError as exc:
        raise BenchError(str(exc)) from exc
    items, copies = bench_input(chosen, events, city)
    emit(f"input: {len(items)} messages from {copies} day(s) of scenario {chosen.name!r}")

    create_topics(bootstrap, partitions, base_settings.replication_factor, base_settings)
    own_dir = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="riskwatch-bench-")) if work_dir is None else work_dir
    offsets = Offsets(bootstrap, base_settings)
    try:
        raw_tps = offsets.partitions(RAW_NAMES)
        out_tps = offsets.partitions(OUTPUT_NAMES)
        busy = offsets.non_empty(raw_tps + [tp for tp in out_tps if tp.topic in DOWNSTREAM_NAMES])
        if busy:
            raise BenchError(f"the broker is not fresh: {', '.join(busy)} already hold records. The pipeline reads "
                             "fixed topic names, so run the bench on a fresh broker (or without --broker)")
        counts = sorted({sum(1 for tp in raw_tps if tp.topic == n) for n in RAW_NAMES})
        if counts != [partitions]:
            emit(f"note: the raw topics already exist with {counts} partition(s), not {partitions}")

        produce_s, written = asyncio.run(produce(bootstrap, items, base_settings))
        produced = sum(high - low for low, high in written.values())
        if produced != len(items):
            raise BenchError(f"sent {len(items)} messages but the broker acknowledged offsets for {produced}")
        emit(f"produced {produced} messages in {produce_s:.1f}s")

        tag = uuid.uuid4().hex[:8]
        bare_settings = base_settings.model_copy(update={
            "app_id": f"riskwatch-bench-bare-{tag}", "data_dir": root / "bare" / "data"})
        process, log_path = _spawn(["-m", "riskwatch.tools.bench_bare"], bare_settings, root / "bare")
        emit(f"run A: bare Faust agent (pid {process.pid}, group {bare_settings.app_id})")
        try:
            bare = measure("bare", [(process, log_path)], committed_positions(offsets, bare_settings.app_id), written,
                           None, timeout_s)
        finally:
            stop_worker(process)
        emit(f"  {bare.events_per_s:,.0f} events/s ({bare.window_records} in {bare.seconds:.2f}s)")

        out_base = read_ends(bootstrap, base_settings, offsets.starts(out_tps))
        pipe_dir = root / "pipeline"
        pipe_settings = base_settings.model_copy(update={
            "app_id": f"riskwatch-bench-pipeline-{tag}", "data_dir": pipe_dir / "data",
            "database_url": f"sqlite:///{pipe_dir / 'warnings.db'}", "health_every_s": HEALTH_EVERY_S})
        spawned = [_spawn(["-m", "riskwatch.tools", "worker"], settings_i, dir_i)
                   for settings_i, dir_i in _pipeline_workers(pipe_settings, pipe_dir, workers)]
        pids = ", ".join(str(process.pid) for process, _ in spawned)
        emit(f"run B: full pipeline, {workers} worker(s) (pid {pids}, group {pipe_settings.app_id})")
        downstream = Downstream(bootstrap, base_settings,
                                {tp: out_base[tp] for tp in out_tps if tp.topic in DOWNSTREAM_NAMES})
        try:
            with processed_positions(pipe_settings.database_url, pipe_settings.app_id) as progress:
                pipeline = measure("pipeline", spawned, progress, written, downstream, timeout_s)
        finally:
            for process, _ in spawned:
                stop_worker(process)
        pipeline.workers = workers
        out_end = read_ends(bootstrap, base_settings, out_base)
        pipeline.outputs = {n.removeprefix("riskwatch."): by_topic(out_base, out_end, n) for n in OUTPUT_NAMES}
        emit(f"  {pipeline.events_per_s:,.0f} events/s ({pipeline.window_records} in {pipeline.seconds:.2f}s)")
        latency_result = None
        if latency is not None:
            after = max(item.event_time for item in items)
            latency_result = run_latency(latency, city, after, pipeline.events_per_s, pipe_settings, pipe_dir, offsets, out_end, timeout_s, emit)
    finally:
        offsets.close()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
    return BenchResult(broker=broker_label, bootstrap=bootstrap, scenario=chosen.name, copies=copies,
                       events=len(items), partitions=partitions, produce_s=round(produce_s, 3),
                       bare=bare, pipeline=pipeline, latency=latency_result)


def _pipeline_workers(settings: Settings, run_dir: Path, workers: int) -> list[tuple[Settings, Path]]:
    """Settings and folder of each pipeline worker: one group and one store, a data dir each
    (one worker keeps the folder the latency phase restarts it in)."""
    if workers == 1:
        return [(settings, run_dir)]
    return [(settings.model_copy(update={"data_dir": run_dir / f"worker{i}" / "data"}), run_dir / f"worker{i}")
            for i in range(workers)]


def _rate(run: RunResult) -> str:
    return f"{run.events_per_s:,.0f}  ({run.window_records} records in {run.seconds:.2f}s)"


def format_table(result: BenchResult) -> str:
    rows = [
        ("broker", result.broker),
        ("events (N)", f"{result.events}  ({result.scenario} × {result.copies} day(s))"),
        ("partitions", str(result.partitions)),
        ("bare events/s", _rate(result.bare)),
        (f"pipeline events/s ({result.pipeline.workers} worker{'s' if result.pipeline.workers > 1 else ''})",
         _rate(result.pipeline)),
        ("ratio pipeline/bare", f"{result.ratio:.3f}"),
        ("pipeline output", ", ".join(f"{k} {v}" for k, v in result.pipeline.outputs.items())),
    ]
    if result.latency is not None:
        lat = result.latency
        rows += [
            ("latency input", f"{lat.messages} messages of {lat.scenario} in {lat.send_seconds:.1f}s "
                              f"({lat.rate:,.0f} msg/s, aimed at {lat.target_rate:,.0f}; ×{lat.speed:,.0f} simulated time)"),
            ("warning messages", f"{lat.warning_messages}  ({lat.cancels} Cancel(s) and {lat.unmatched} without "
                                 "evidence from this phase not timed)"),
            ("event → warning", lat.event_to_warning.describe()),
            ("warning → store", f"{lat.warning_to_store.describe()}; polled every {lat.store_poll_ms:.0f} ms"
                                + (f"; {lat.store_unseen} never seen" if lat.store_unseen else "")),
        ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

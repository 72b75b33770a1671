"""`riskwatch demo`: broker, worker, alert-feed API and simulator in one command.

On the embedded default it starts an in-memory Tansu broker (no Docker, no JVM); with
`--broker` it uses a real Kafka. The worker and the API run as child processes exactly as in
production; this process feeds the simulator's scenario into the raw topics and prints the
warnings topic. The command-center web view is served on 127.0.0.1 with a commander token
the demo creates, so the warnings can be watched and acted on live in a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from aiokafka import AIOKafkaConsumer
from kafka import TopicPartition
from pydantic import ValidationError

from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, MsgType, Warning
from riskwatch.contracts import topics as T
from riskwatch.streams.admin import Offsets, create_topics, format_warning
from riskwatch.streams.worker import ready_file, worker_env
from riskwatch.tools.embedded_broker import EmbeddedBroker

RAW_TOPIC_NAMES = {spec.name for spec in T.RAW_TOPICS.values()}
PIPELINE_TOPICS = {T.EVENTS.name, T.SIGNALS.name, T.WARNINGS.name}
#: Days of ordinary reports before the demo scenario: Prophet needs a week of hourly counts.
HISTORY_DAYS = 7
#: Days of ordinary sensor readings before it: a PyOD model's whole training window (576 readings)
#: to start from; with one day its calibrated tail is too coarse to pass the 0.999 threshold.
SENSOR_HISTORY_DAYS = 2
ANSI_BY_COLOUR = {"red": "38;5;196", "orange": "38;5;208", "yellow": "38;5;226", "blue": "38;5;39"}


@dataclass
class DemoResult:
    """What the demo saw, for its summary and for tests."""

    latest: dict[str, Warning] = field(default_factory=dict)
    messages: int = 0
    raw_dead: int = 0
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    topic_counts: dict[str, int] = field(default_factory=dict)
    simulated: dict[str, int] = field(default_factory=dict)

    def levels(self) -> dict[str, int]:
        """Warnings standing at the end, by level (cancelled ones are counted apart)."""
        counts: dict[str, int] = {}
        for warning in self.latest.values():
            if warning.msg_type is not MsgType.cancel:
                counts[warning.level.value] = counts.get(warning.level.value, 0) + 1
        return dict(sorted(counts.items()))

    def cancelled(self) -> int:
        """Warnings withdrawn by a Cancel (covered by a higher one, silenced, or a false alarm)."""
        return sum(1 for warning in self.latest.values() if warning.msg_type is MsgType.cancel)


def paint(text: str, colour: str, enabled: bool) -> str:
    code = ANSI_BY_COLOUR.get(colour)
    return f"\x1b[{code}m{text}\x1b[0m" if enabled and code else text


def warm_up_state(settings: Settings, scenario: object, days: int, sensor_days: int) -> tuple[int, float]:
    """Build detector state from ordinary days before the scenario, offline and in-process, and
    save it where the worker restores it from: one snapshot per events partition in the store,
    covering none of the topic's records (offset 0), see `streams/partition_state.py`.

    The same detectors as the worker's (same config) see the history's events, each on the
    partition its district's events go to, so Prophet has its week of counts, the burst detector
    its background rate and each PyOD model its training window when the live scenario starts.
    Any older snapshot (a previous demo's open incidents included) is replaced. Returns
    (events, seconds).
    """
    from aiokafka.partitioner import DefaultPartitioner

    from riskwatch.alerts.store.store import WarningStore
    from riskwatch.config.loader import load_city_config
    from riskwatch.config.regions import RegionIndex
    from riskwatch.contracts import Event
    from riskwatch.simulator.history import history_messages
    from riskwatch.streams.normalize import partition_key
    from riskwatch.streams.partition_state import DetectCodec, make_snapshot
    from riskwatch.streams.pipeline import DetectStage, NormalizeStage

    started = time.monotonic()
    config = load_city_config(settings.config_dir)
    normalize = NormalizeStage(config, RegionIndex(config.regions))
    partitions = list(range(settings.partitions))
    partitioner = DefaultPartitioner()  # the one the worker's producer keys events with
    stages = {p: DetectStage(config) for p in partitions}
    messages = history_messages(scenario, config, days, sensor_days)  # type: ignore[arg-type]
    for message in messages:
        event = normalize(message.source, message.value)
        if isinstance(event, Event):
            stages[partitioner(partition_key(event).encode(), partitions, partitions)](event)
    store = WarningStore(settings.database_url)
    try:
        store.migrate()
        store.partition_snapshots.clear(settings.app_id)
        for partition, stage in stages.items():
            store.partition_snapshots.put(make_snapshot(settings.app_id, "detect", partition, 0, DetectCodec(), stage))
    finally:
        store.close()
    return len(messages), time.monotonic() - started


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """The production worker as a child process, configured only through RISKWATCH_* variables."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "riskwatch.tools", "worker"],
            env=worker_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops the worker in order
        )


async def wait_until_ready(process: subprocess.Popen[bytes], ready_path: Path, log_path: Path, timeout_s: float = 90.0) -> None:
    """Return once the worker has written its ready file; fail early if it died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"worker exited with code {process.returncode}:\n{tail}")
        if ready_path.exists() and ready_path.read_text(encoding="ascii").strip() == str(process.pid):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"worker not ready after {timeout_s:.0f}s; see {log_path}")


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there on 127.0.0.1, otherwise any free port."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free TCP port on 127.0.0.1")


def demo_token(settings: Settings) -> str:
    """A fresh commander token in the demo's store, for the web-view link the demo prints."""
    from riskwatch.alerts.store.store import WarningStore
    from riskwatch.alerts.store.tokens import Role
    from riskwatch.config.loader import load_city_config

    store = WarningStore(settings.database_url, routing=load_city_config(settings.config_dir).routing)
    try:
        store.migrate()
        _identity, token = store.tokens.create("演示指挥员", Role.commander)
        return token
    finally:
        store.close()


def start_api(settings: Settings, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`riskwatch api` as a child process on 127.0.0.1, on the demo's store and broker."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "riskwatch.tools", "api", "--host", "127.0.0.1", "--port", str(port),
             "--broker", settings.bootstrap_servers, "--log-level", "warning"],
            env=worker_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


async def wait_until_serving(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float = 60.0) -> None:
    """Return once the API answers /healthz; fail early if it died."""
    import httpx

    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
                raise RuntimeError(f"API exited with code {process.returncode}:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"API not serving after {timeout_s:.0f}s; see {log_path}")


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Stop a child (worker or API) with SIGTERM, then SIGKILL after 30 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def follow_outputs(
    bootstrap: str, result: DemoResult, emit: Callable[[Warning], None], start_at_end: bool, ready: asyncio.Event
) -> None:
    """Count what the pipeline writes and hand every warning to `emit` as it arrives.

    `ready` is set once every partition has a position, so nothing written after it is missed.
    """
    names = [T.EVENTS.name, T.SIGNALS.name, T.WARNINGS.name, T.DEADLETTER.name]
    consumer = AIOKafkaConsumer(
        *names, bootstrap_servers=bootstrap, auto_offset_reset="latest" if start_at_end else "earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.1)
        for partition in consumer.assignment():
            await consumer.position(partition)
        ready.set()
        async for message in consumer:
            result.topic_counts[message.topic] = result.topic_counts.get(message.topic, 0) + 1
            result.positions[(message.topic, message.partition)] = message.offset + 1
            if message.topic == T.DEADLETTER.name:
                with contextlib.suppress(ValidationError):
                    letter = DeadLetter.model_validate_json(message.value or b"")
                    if letter.source_topic in RAW_TOPIC_NAMES:
                        result.raw_dead += 1
            if message.topic != T.WARNINGS.name:
                continue
            try:
                warning = Warning.model_validate_json(message.value or b"")
            except ValidationError:
                continue
            result.messages += 1
            known = result.latest.get(warning.warning_id)
            if known is None or warning.version > known.version:
                result.latest[warning.warning_id] = warning
            emit(warning)
    finally:
        await consumer.stop()


def unprocessed(bootstrap: str, group: str, settings: Settings, positions: dict[tuple[str, int], int]) -> int:
    """Records on the pipeline's own topics that `group` has not committed yet.

    The ends are the positions this process has read up to, not ListOffsets answers: the
    embedded broker answers ListOffsets with the last batch's base offset + 1.
    """
    offsets = Offsets(bootstrap, settings)
    try:
        committed = offsets.committed(group)
    finally:
        offsets.close()
    return sum(
        max(end - committed.get(TopicPartition(topic, partition), 0), 0)
        for (topic, partition), end in positions.items()
        if topic in PIPELINE_TOPICS
    )


async def wait_until_drained(bootstrap: str, settings: Settings, deadline: float, produced: int, result: DemoResult) -> None:
    """Return once every raw record became an event or a dead letter and the worker has
    committed everything the pipeline wrote (twice in a row, to let late outputs show up)."""
    done_in_a_row = 0
    while time.monotonic() < deadline:
        normalized = result.topic_counts.get(T.EVENTS.name, 0) + result.raw_dead
        if normalized >= produced:
            behind = await asyncio.to_thread(unprocessed, bootstrap, settings.app_id, settings, dict(result.positions))
            done_in_a_row = done_in_a_row + 1 if behind == 0 else 0
        if done_in_a_row >= 2:
            return
        await asyncio.sleep(0.5)


async def run_demo(
    settings: Settings,
    scenario: str,
    duration_s: float,
    speed: float,
    use_embedded: bool,
    emit: Callable[[str], None],
    colour: bool,
    history_days: int = HISTORY_DAYS,
    sensor_history_days: int = SENSOR_HISTORY_DAYS,
    api_port: int | None = 8000,
    stay: bool = False,
) -> DemoResult:
    """Run broker (if embedded), worker and simulator until the scenario is processed, the
    duration is up, or the user presses Ctrl-C; always stop cleanly and return what was seen.

    First `history_days` ordinary days before the scenario warm the detectors up offline
    (`warm_up_state`; 0 skips it), so the worker starts from their saved state.

    With `api_port` (None = no API) the alert-feed API and web view are served on 127.0.0.1
    (that port, or a free one if it is taken) and a commander sign-in link is printed; with
    `stay` they keep serving after the scenario until Ctrl-C."""
    from riskwatch.simulator.scenario import load_scenario
    from riskwatch.simulator.sinks import publish_to_kafka

    loaded = load_scenario(scenario)
    deadline = time.monotonic() + duration_s
    result = DemoResult()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    broker = EmbeddedBroker() if use_embedded else None
    worker = None
    api = None
    printer: asyncio.Task[None] | None = None
    try:
        if broker is not None:
            settings = settings.model_copy(update={"broker": broker.start()})
            emit(f"embedded Kafka-compatible broker (Tansu) on {broker.bootstrap}")
        bootstrap = settings.bootstrap_servers
        create_topics(bootstrap, settings.partitions, settings.replication_factor, settings)
        if history_days > 0:
            emit(f"building detector state from {history_days} ordinary days before the scenario "
                 f"(12345/110 reports; sensor readings for the last {sensor_history_days})")
            events, seconds = await asyncio.to_thread(warm_up_state, settings, loaded, history_days, sensor_history_days)
            emit(f"history: {events} events through the detectors in {seconds:.0f} s; state saved for the worker")
        log_path = settings.data_dir / "worker.log"
        worker = start_worker(settings, log_path)
        emit(f"worker starting (pid {worker.pid}); store {settings.database_url}; log {log_path}")
        await wait_until_ready(worker, ready_file(settings), log_path)
        emit("worker ready")
        if api_port is not None:
            port = free_port(api_port)
            url = f"http://127.0.0.1:{port}/"
            api_log = settings.data_dir / "api.log"
            api = start_api(settings, port, api_log)
            await wait_until_serving(api, url, api_log)
            token = await asyncio.to_thread(demo_token, settings)
            emit(f"command-center web view: {url}#token={token}")
            emit(f"  (commander token {token}; public CAP feed {url}cap/feed.atom; API docs {url}docs; log {api_log})")

        def show(warning: Warning) -> None:
            emit(paint(format_warning(warning), warning.colour, colour))

        following = asyncio.Event()
        printer = asyncio.create_task(follow_outputs(bootstrap, result, show, not use_embedded, following))
        await asyncio.wait_for(following.wait(), timeout=60)
        emit(f"simulating scenario {loaded.name!r} at {speed:g}x: {loaded.description.strip()}")

        def count_sent(_item: object, stats: object) -> None:
            result.simulated = stats.as_dict()  # type: ignore[attr-defined]

        async def feed_and_drain() -> None:
            stats = await publish_to_kafka(loaded, bootstrap, speed, on_sent=count_sent)
            result.simulated = stats.as_dict()
            emit("simulation sent; waiting for the pipeline to drain")
            await wait_until_drained(bootstrap, settings, deadline, int(result.simulated["sent"]), result)

        feeding = asyncio.create_task(feed_and_drain())
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({feeding, stopping}, timeout=max(deadline - time.monotonic(), 1), return_when=asyncio.FIRST_COMPLETED)
        if feeding in done:
            feeding.result()
        else:
            emit("interrupted; stopping" if stopping in done else "duration reached; stopping")
        if stay and api is not None and not stop.is_set():
            emit("scenario done; the web view keeps serving — press Ctrl-C to stop")
            await stop.wait()
        for task in (feeding, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        if printer is not None:
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer
        if api is not None:
            await asyncio.to_thread(stop_worker, api)
        if worker is not None:
            await asyncio.to_thread(stop_worker, worker)
        if broker is not None:
            broker.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return result

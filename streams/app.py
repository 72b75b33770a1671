"""The Faust app: one agent per stage, fed by the topics of `topics.py`.

normalize (raw.* → events | deadletter) → detect (events → signals | deadletter)
→ grade (signals → warnings) → store (warnings → disposal plan → SQL store); feedback (command-center
actions → the grader, so a false alarm or cancellation publishes a Cancel and stops Updates).
Timers refresh the silences the grader honours, close idle incidents, and write the worker's
health (lag, warming detectors, dead-letter rate, store availability) for the command center.

A store outage (PostgreSQL down or failing over, SQLite locked) never costs a warning: the store
and feedback agents hold their record and retry it with backoff until the store is back, so no
offset is committed past it (`streams/store_retry.py`); the timers skip their store work
meanwhile. Only a record that can never be stored is dead-lettered.

Values travel as JSON bytes produced by our pydantic models, so every topic's schema is the
one `riskwatch schema export` writes. No agent ever stops on bad input: anything that fails
goes to the dead-letter topic with the reason and the original bytes.

Detector, event-time gate and grader state is snapshotted to `data_dir/state` by the agents
(every `SNAPSHOT_EVERY_S`) and at clean shutdown, with the offsets of the events and signals it
covers, and restored when the app is built (`streams/state.py`); the worker then sets the
group's committed offsets back to those (`streams/rewind.py`). `detectors.yaml` is re-read
when it changes (`streams/reload.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust

from riskwatch.alerts.disposal.silences import Silence
from riskwatch.alerts.grading.grader import Grader
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, Event, Feedback, Signal, Warning
from riskwatch.contracts import topics as T
from riskwatch.streams.agent_loop import RecordMessage, each_record
from riskwatch.streams.health import WorkerCounters, component_name, consumer_lag, health_payload, warming_up
from riskwatch.streams.normalize import partition_key
from riskwatch.streams.pipeline import DetectStage, NormalizeStage
from riskwatch.streams.reload import ConfigReloader
from riskwatch.streams.state import ConsumedOffsets, Snapshotter, StateStore, TopicOffsets
from riskwatch.streams.store_agents import feedback_handler, store_handler
from riskwatch.streams.store_retry import StoreAvailability, StoreRetry, status_path

log = logging.getLogger(__name__)

#: Seconds between state snapshots taken by the detect and grade agents (and one at clean shutdown).
SNAPSHOT_EVERY_S = 30.0
#: A consumer that stops heartbeating (a killed worker) leaves its group after this many seconds.
BROKER_SESSION_TIMEOUT_S = 10.0
#: Seconds between checks of detectors.yaml for changes (hot reload).
RELOAD_POLL_S = 5.0
#: Seconds between refreshes of the active silences the grader honours.
SILENCES_REFRESH_S = 10.0
#: Seconds between health snapshots written for the command center.
HEALTH_EVERY_S = 10.0
#: Seconds between sweeps that close incidents idle past grading.yaml's incident_idle_close.
EXPIRE_EVERY_S = 60.0


@dataclass(frozen=True)
class PipelineApp:
    """The Faust app and what the worker needs beside it."""

    app: faust.App
    store: WarningStore
    #: Whether the store answers, and the outages it had (also in the health snapshot).
    store_availability: StoreAvailability
    #: Store writes held through outages; the worker stops it first thing when it stops.
    store_retry: StoreRetry
    #: Snapshot detector, gate and grader state; the worker calls it at clean shutdown.
    save_state: Callable[[], None]
    #: Where the restored state ends: the worker rewinds the group's offsets to it before consuming.
    snapshot_offsets: TopicOffsets


def _raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> Any:
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def faust_settings(settings: Settings) -> dict[str, Any]:
    """Faust options every riskwatch worker shares, the bare benchmark agent included."""
    return {
        "broker": settings.broker_url,
        "store": "memory://",
        "datadir": str(settings.data_dir),
        "consumer_auto_offset_reset": "earliest",
        "web_enabled": False,
        "broker_commit_every": 500,
        "broker_commit_interval": 1.0,
        # Brokers wait up to half the session timeout for members to join a group; Faust's
        # default of 60 s would hold a fresh worker idle for 30 s.
        "broker_session_timeout": BROKER_SESSION_TIMEOUT_S,
        "broker_heartbeat_interval": 3.0,
    }


def create_app(settings: Settings, config: CityConfig) -> PipelineApp:
    """Build the app with its topics and agents; nothing connects until a worker starts it."""
    app = faust.App(
        settings.app_id,
        **faust_settings(settings),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
    )
    regions = RegionIndex(config.regions)
    normalize = NormalizeStage(config, regions)
    detect = DetectStage(config)
    store = WarningStore(settings.database_url, routing=config.routing)
    store.migrate()
    # The grader asks for silences on every signal: serve it a list a timer refreshes.
    active_silences: list[Silence] = store.silences.list(active_at=datetime.now(UTC))
    grader = Grader(config, regions, silences=lambda: active_silences)
    counters = WorkerCounters(started_at=datetime.now(UTC))
    health_component = component_name(settings.app_id)
    availability = StoreAvailability(component=health_component, status_path=status_path(settings.data_dir))
    availability.write()  # the store answered: it was just migrated
    # As soon as the store is back, the health snapshot records the outage (`write_health`).
    store_retry = StoreRetry(availability, on_recovered=lambda: beat_health())
    latest_signal_at: list[datetime] = []  # event time of the newest signal graded (one slot)
    # Warm start: detector, gate and grader state from the last snapshot (see streams/state.py).
    state = StateStore(settings.data_dir / "state")
    snapshots = Snapshotter(state, SNAPSHOT_EVERY_S)
    restored = state.restore_stage(detect)
    state.restore_grader(grader, restored)
    log.warning("%s", restored.describe())
    # What the state has seen of each topic it consumes: saved with every snapshot.
    events_seen = ConsumedOffsets(T.EVENTS.name, restored.offsets.get(T.EVENTS.name))
    signals_seen = ConsumedOffsets(T.SIGNALS.name, restored.offsets.get(T.SIGNALS.name))
    reloader = ConfigReloader(config.directory / "detectors.yaml", detect, config.taxonomy)

    raw_in = _raw_topic(app, T.RAW_HOTLINE.name, T.RAW_POLICE.name, T.RAW_SENSOR.name)
    events_topic = _raw_topic(app, T.EVENTS.name)
    signals_topic = _raw_topic(app, T.SIGNALS.name)
    warnings_topic = _raw_topic(app, T.WARNINGS.name)
    deadletter_topic = _raw_topic(app, T.DEADLETTER.name)
    feedback_topic = _raw_topic(app, T.FEEDBACK.name)

    async def dead_letter(letter: DeadLetter) -> None:
        counters.dead_letters += 1
        await deadletter_topic.send(key=letter.source_topic.encode(), value=letter.model_dump_json().encode())

    async def publish_warnings(messages: list[Warning]) -> None:
        """Alerts, Updates and Cancels in the order the grader made them (one key per warning)."""
        for warning in messages:
            counters.warnings += 1
            log.warning("%s %s v%d %s", warning.msg_type.value, warning.level.value, warning.version, warning.title)
            await warnings_topic.send(key=warning.warning_id.encode(), value=warning.model_dump_json().encode())

    async def normalize_record(message: RecordMessage, raw: bytes) -> None:
        counters.events += 1
        source = T.source_of_topic(message.topic)
        if source is None:
            raise ValueError(f"not a raw topic: {message.topic}")
        result = normalize(source, raw, message.partition, message.offset)
        if isinstance(result, DeadLetter):
            await dead_letter(result)
        else:
            await events_topic.send(key=partition_key(result).encode(), value=result.model_dump_json().encode())

    async def detect_record(message: RecordMessage, raw: bytes) -> None:
        event = Event.model_validate_json(raw)
        signals, late = detect(event, message.partition, message.offset)
        if late is not None:
            await dead_letter(late)
        counters.signals += len(signals)
        for signal in signals:
            await signals_topic.send(key=signal.district_code.encode(), value=signal.model_dump_json().encode())

    async def after_detect(message: RecordMessage) -> None:
        events_seen.processed(message.partition, message.offset)
        if snapshots.due("detect"):
            await app.producer.flush()  # the snapshot then covers only events whose signals are written
            state.save_stage(detect, events_seen.snapshot())
            snapshots.saved("detect")

    async def grade_record(message: RecordMessage, raw: bytes) -> None:
        signal = Signal.model_validate_json(raw)
        messages = grader.process(signal)
        if not latest_signal_at or signal.at > latest_signal_at[0]:
            latest_signal_at[:] = [signal.at]
        await publish_warnings(messages)

    async def after_grade(message: RecordMessage) -> None:
        signals_seen.processed(message.partition, message.offset)
        if snapshots.due("grader"):
            await app.producer.flush()
            state.save_grader(grader, signals_seen.snapshot())
            snapshots.saved("grader")

    async def tell_grader(feedback: Feedback) -> None:
        """Command-center outcomes, once recorded against the detectors, go to the grader."""
        await publish_warnings(
            grader.apply_feedback(feedback.warning_id, feedback.to_status, at=feedback.at, reason=feedback.reason)
        )

    feedback_record = feedback_handler(store, store_retry, tell_grader)
    store_record = store_handler(store, config.routing, store_retry)

    @app.agent(raw_in, name="riskwatch.normalize")
    async def normalize_agent(stream: Any) -> None:
        await each_record(stream, "normalize", normalize_record, dead_letter)

    @app.agent(events_topic, name="riskwatch.detect")
    async def detect_agent(stream: Any) -> None:
        await each_record(stream, "detect", detect_record, dead_letter, after=after_detect)

    @app.agent(signals_topic, name="riskwatch.grade")
    async def grade_agent(stream: Any) -> None:
        await each_record(stream, "grade", grade_record, dead_letter, after=after_grade)

    @app.agent(feedback_topic, name="riskwatch.apply_feedback")
    async def feedback_agent(stream: Any) -> None:
        await each_record(stream, "feedback", feedback_record, dead_letter)

    @app.agent(warnings_topic, name="riskwatch.store")
    async def store_agent(stream: Any) -> None:
        await each_record(stream, "store", store_record, dead_letter)

    @app.timer(interval=RELOAD_POLL_S)
    async def reload_detectors() -> None:
        reloader.check()

    @app.timer(interval=SILENCES_REFRESH_S)
    async def refresh_silences() -> None:
        try:  # while the store is away the last known silences stay in force
            read, silences = await store_retry.once("silences", lambda: store.silences.list(active_at=datetime.now(UTC)))
        except Exception:  # noqa: BLE001 - a permanent error is logged, never fatal
            log.exception("could not refresh silences; keeping %d known", len(active_silences))
            return
        if read and silences is not None:
            active_silences[:] = silences

    @app.timer(interval=EXPIRE_EVERY_S)
    async def expire_incidents() -> None:
        # Incidents live in event time: close by the newest signal's time, not the wall clock,
        # so replaying history closes them as it would have live.
        if latest_signal_at:
            grader.expire(latest_signal_at[0])

    RISKWATCH_TOPICS = frozenset(t.name for t in T.ALL_TOPICS)  # noqa: N806 - a constant of this app

    async def beat_health() -> None:
        """Write the worker's health snapshot; skipped while the store is away."""
        now = datetime.now(UTC)
        try:
            lag = await consumer_lag(app.consumer, RISKWATCH_TOPICS)
            payload = health_payload(counters, now=now, lag=lag, warming=warming_up(detect.detectors))
            payload["store"] = availability.snapshot()
            await store_retry.once("health", lambda: store.health.put(health_component, payload, at=now))
        except Exception:  # noqa: BLE001 - health must never take the worker down
            log.exception("could not write the worker's health snapshot")

    @app.timer(interval=HEALTH_EVERY_S)
    async def write_health() -> None:
        await beat_health()

    def save_state() -> None:
        """Snapshot everything; the worker calls it at clean shutdown, after the agents stopped."""
        state.save_stage(detect, events_seen.snapshot())
        state.save_grader(grader, signals_seen.snapshot())

    return PipelineApp(
        app=app,
        store=store,
        store_availability=availability,
        store_retry=store_retry,
        save_state=save_state,
        snapshot_offsets=restored.offsets,
    )

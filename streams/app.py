"""The Faust app: one agent per stage, fed by the topics of `topics.py`.

normalize (raw.* → events | deadletter) → detect (events → signals | deadletter)
→ grade (signals → warnings) → store (warnings → disposal plan → SQL store); feedback (command-center
actions → the grader, so a false alarm or cancellation publishes a Cancel and stops Updates).
Timers refresh the silences the grader honours, close idle incidents, escalate missed disposal
deadlines (one replica per round: `DisposalRepository.check_deadlines`), and write the worker's
health (lag, warming detectors, dead-letter rate, store availability) for the command center.

A store outage (PostgreSQL down or failing over, SQLite locked) never costs a warning: the store
and feedback agents hold their record and retry it with backoff until the store is back, so no
offset is committed past it (`streams/store_retry.py`); the timers skip their store work
meanwhile. Only a record that can never be stored is dead-lettered.

Values travel as JSON bytes produced by our pydantic models, so every topic's schema is the
one `riskwatch schema export` writes. No agent ever stops on bad input: anything that fails
goes to the dead-letter topic with the reason and the original bytes.

Detector, event-time gate and grader state is kept per partition of the events and signals
topics and snapshotted per partition to the store's `partition_snapshots` (every
`Settings.snapshot_every_s`, when a partition is revoked, and at clean shutdown); a partition's first
record in a worker restores its latest snapshot, whichever worker saved it. Faust does not
commit those two topics: the agents commit a partition's offset right after its snapshot is
written, so no committed offset is ahead of a snapshot (`streams/partition_state.py`).
`detectors.yaml` is re-read when it changes (`streams/reload.py`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP

from riskwatch.alerts.disposal.silences import Silence
from riskwatch.alerts.grading.grader import Grader
from riskwatch.alerts.store.partition_snapshots import PartitionSnapshot
from riskwatch.alerts.store.store import WarningStore
from riskwatch.config.loader import CityConfig
from riskwatch.config.regions import RegionIndex
from riskwatch.config.settings import Settings
from riskwatch.contracts import DeadLetter, Event, Feedback, Signal, Warning
from riskwatch.contracts import topics as T
from riskwatch.streams.agent_loop import RecordMessage, each_record
from riskwatch.streams.health import WorkerCounters, component_name, consumer_lag, health_payload, warming_up
from riskwatch.streams.normalize import partition_key
from riskwatch.streams.partition_state import DetectCodec, GraderCodec, PartitionStates
from riskwatch.streams.pipeline import DetectStage, NormalizeStage
from riskwatch.streams.reload import ConfigReloader
from riskwatch.streams.store_agents import feedback_handler, store_handler
from riskwatch.streams.store_retry import StoreAvailability, StoreRetry, status_path

log = logging.getLogger(__name__)

#: A consumer that stops heartbeating (a killed worker) leaves its group after this many seconds.
BROKER_SESSION_TIMEOUT_S = 10.0
#: Seconds between checks of detectors.yaml for changes (hot reload).
RELOAD_POLL_S = 5.0
#: Seconds between refreshes of the active silences the grader honours.
SILENCES_REFRESH_S = 10.0
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
    save_state: Callable[[], Awaitable[None]]
    #: Each partition's detect stage and grader, restored from the store on its first record.
    detect_states: PartitionStates[DetectStage]
    grade_states: PartitionStates[Grader]


def _raw_topic(app: faust.App, *names: str, partitions: int | None = None, acks: bool = True) -> Any:
    """A topic of raw bytes; `acks=False`: Faust never commits its offsets (the agent does)."""
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        acks=acks,
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
    store = WarningStore(settings.database_url, routing=config.routing)
    store.migrate()
    # The grader asks for silences on every signal: serve it a list a timer refreshes.
    active_silences: list[Silence] = store.silences.list(active_at=datetime.now(UTC))
    counters = WorkerCounters(started_at=datetime.now(UTC))
    health_component = component_name(settings.app_id)
    availability = StoreAvailability(component=health_component, status_path=status_path(settings.data_dir))
    availability.write()  # the store answered: it was just migrated
    # As soon as the store is back, the health snapshot records the outage (`write_health`).
    store_retry = StoreRetry(availability, on_recovered=lambda: beat_health())
    latest_signal_at: dict[int, datetime] = {}  # event time of the newest signal graded, per partition
    # State per partition, warm from the group's snapshots in the store (streams/partition_state.py).
    reloader = ConfigReloader(
        config.directory / "detectors.yaml", lambda: [s for _, s in detect_states], config.taxonomy, config.stations
    )

    def build_stage(partition: int) -> DetectStage:
        stage = DetectStage(config)
        reloader.apply_current(stage)
        return stage

    def earliest_of(topic: str) -> Callable[[int], Awaitable[int]]:
        async def earliest(partition: int) -> int:
            """The partition's first retained offset (the broker's log start)."""
            tp = TP(topic, partition)
            return (await app.consumer.earliest_offsets(tp))[tp]
        return earliest

    detect_states: PartitionStates[DetectStage] = PartitionStates(
        stage="detect", topic=T.EVENTS.name, group_id=settings.app_id, build=build_stage, codec=DetectCodec(),
        snapshots=store.partition_snapshots, every_s=settings.snapshot_every_s, earliest=earliest_of(T.EVENTS.name),
    )
    grade_states: PartitionStates[Grader] = PartitionStates(
        stage="grade", topic=T.SIGNALS.name, group_id=settings.app_id,
        build=lambda partition: Grader(config, regions, silences=lambda: active_silences), codec=GraderCodec(),
        snapshots=store.partition_snapshots, every_s=settings.snapshot_every_s, earliest=earliest_of(T.SIGNALS.name),
    )

    raw_in = _raw_topic(app, T.RAW_HOTLINE.name, T.RAW_POLICE.name, T.RAW_SENSOR.name)
    events_topic = _raw_topic(app, T.EVENTS.name, acks=False)
    signals_topic = _raw_topic(app, T.SIGNALS.name, acks=False)
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

    async def flush() -> None:
        await app.producer.flush()

    def committer(topic: str) -> Callable[[PartitionSnapshot], Awaitable[None]]:
        async def commit(snapshot: PartitionSnapshot) -> None:
            """Commit the offset a just-saved snapshot covers; Faust never commits this topic."""
            await app.consumer._commit({TP(topic, snapshot.partition): snapshot.offset})  # noqa: SLF001
        return commit

    commit_events, commit_signals = committer(T.EVENTS.name), committer(T.SIGNALS.name)

    async def detect_record(message: RecordMessage, raw: bytes) -> None:
        detect = await detect_states.for_record(message.partition, message.offset)
        if detect is None:  # in the partition's state already (restored snapshot, or re-read)
            counters.skipped += 1
            return
        event = Event.model_validate_json(raw)
        signals, late = detect(event, message.partition, message.offset)
        if late is not None:
            await dead_letter(late)
        counters.signals += len(signals)
        for signal in signals:
            await signals_topic.send(key=signal.district_code.encode(), value=signal.model_dump_json().encode())

    async def after_detect(message: RecordMessage) -> None:
        detect_states.processed(message.partition, message.offset)
        if detect_states.due(message.partition):
            await detect_states.checkpoint(message.partition, flush, commit_events)

    async def grade_record(message: RecordMessage, raw: bytes) -> None:
        grader = await grade_states.for_record(message.partition, message.offset)
        if grader is None:
            counters.skipped += 1
            return
        signal = Signal.model_validate_json(raw)
        messages = grader.process(signal)
        newest = latest_signal_at.get(message.partition)
        if newest is None or signal.at > newest:
            latest_signal_at[message.partition] = signal.at
        await publish_warnings(messages)

    async def after_grade(message: RecordMessage) -> None:
        grade_states.processed(message.partition, message.offset)
        if grade_states.due(message.partition):
            await grade_states.checkpoint(message.partition, flush, commit_signals)

    async def tell_grader(feedback: Feedback) -> None:
        """Command-center outcomes, once recorded against the detectors, go to the grader."""
        for _, grader in grade_states:  # only the grader holding the warning's incident answers
            await publish_warnings(
                grader.apply_feedback(feedback.warning_id, feedback.to_status, at=feedback.at, reason=feedback.reason)
            )

    feedback_record = feedback_handler(store, store_retry, tell_grader)
    store_record = store_handler(store, config.routing, store_retry)

    def noting(after: Callable[[RecordMessage], Awaitable[None]] | None = None) -> Callable[[RecordMessage], Awaitable[None]]:
        """An agent's after-step that first notes the record as processed (`WorkerCounters.processed`)."""
        async def note(message: RecordMessage) -> None:
            counters.note_processed(message.topic, message.partition, message.offset)
            if after is not None:
                await after(message)
        return note

    @app.agent(raw_in, name="riskwatch.normalize")
    async def normalize_agent(stream: Any) -> None:
        await each_record(stream, "normalize", normalize_record, dead_letter, after=noting())

    @app.agent(events_topic, name="riskwatch.detect")
    async def detect_agent(stream: Any) -> None:
        await each_record(stream, "detect", detect_record, dead_letter, after=noting(after_detect))

    @app.agent(signals_topic, name="riskwatch.grade")
    async def grade_agent(stream: Any) -> None:
        await each_record(stream, "grade", grade_record, dead_letter, after=noting(after_grade))

    @app.agent(feedback_topic, name="riskwatch.apply_feedback")
    async def feedback_agent(stream: Any) -> None:
        await each_record(stream, "feedback", feedback_record, dead_letter, after=noting())

    @app.agent(warnings_topic, name="riskwatch.store")
    async def store_agent(stream: Any) -> None:
        await each_record(stream, "store", store_record, dead_letter, after=noting())

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

    @app.timer(interval=settings.deadline_check_every_s)
    async def check_deadlines() -> None:
        """Escalate missed acknowledge/resolve deadlines; the API only announces what this records."""
        try:  # while the store is away the round is skipped; the next one catches up
            _, escalations = await store_retry.once("deadlines", store.disposals.check_deadlines)
        except Exception:  # noqa: BLE001 - a permanent error is logged, never fatal
            log.exception("deadline round failed")
            return
        for escalation in escalations or ():
            counters.escalations += 1
            log.info("escalated %s: %s deadline missed, %s → %s", escalation.warning_id, escalation.deadline,
                     escalation.tier_from, escalation.tier_to)

    @app.timer(interval=EXPIRE_EVERY_S)
    async def expire_incidents() -> None:
        # Incidents live in event time: close by the newest signal's time, not the wall clock,
        # so replaying history closes them as it would have live.
        for partition, grader in grade_states:
            if partition in latest_signal_at:
                grader.expire(latest_signal_at[partition])

    RISKWATCH_TOPICS = frozenset(t.name for t in T.ALL_TOPICS)  # noqa: N806 - a constant of this app

    async def beat_health() -> None:
        """Write the worker's health snapshot; skipped while the store is away."""
        now = datetime.now(UTC)
        try:
            lag = await consumer_lag(app.consumer, RISKWATCH_TOPICS)
            warming = sorted(set(warming_up(d for _, stage in detect_states for d in stage.detectors)))
            payload = health_payload(counters, now=now, lag=lag, warming=warming)
            payload["partitions"] = partitions_health()
            payload["store"] = availability.snapshot()
            await store_retry.once("health", lambda: store.health.put(health_component, payload, at=now))
        except Exception:  # noqa: BLE001 - health must never take the worker down
            log.exception("could not write the worker's health snapshot")

    @app.timer(interval=settings.snapshot_every_s)
    async def checkpoint_idle_partitions() -> None:
        """Snapshot and commit partitions that had records since their last snapshot but none
        lately (the agents snapshot only when a record arrives)."""
        for states, commit in ((detect_states, commit_events), (grade_states, commit_signals)):
            for partition in states.due_partitions():
                await states.checkpoint(partition, flush, commit)

    @app.timer(interval=settings.health_every_s)
    async def write_health() -> None:
        await beat_health()

    def partitions_health() -> dict[str, dict[str, Any]]:
        """Per stage and partition held: how its state began and whether a detector still warms up."""
        report: dict[str, dict[str, Any]] = {}
        for states in (detect_states, grade_states):
            report[states.stage] = {
                str(p): {"restored_from_offset": r.offset, "restored": r.restored, "fresh": r.fresh,
                         "warming_at_restore": r.warming}
                for p, r in sorted(states.restores.items())
            }
        for partition, stage in detect_states:
            report["detect"][str(partition)]["warming_up"] = warming_up(stage.detectors)
        return report

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        """Faust has drained the agents and flushed the producer: snapshot what is leaving.

        No commit here: the next owner skips what the snapshot covers beyond the committed offset.
        """
        for states in (detect_states, grade_states):
            for tp in revoked:
                if tp.topic == states.topic:
                    await states.checkpoint(tp.partition, flush)

    @app.on_partitions_assigned.connect
    async def on_assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        """Forget partitions that went elsewhere; a partition's state opens on its first record."""
        for states in (detect_states, grade_states):
            gone = states.keep_only({tp.partition for tp in assigned if tp.topic == states.topic})
            if gone:
                log.warning("%s state of %s%s handed over", states.stage, states.topic, gone)

    async def save_state() -> None:
        """Snapshot every partition held; the worker calls it at clean shutdown, after the agents
        stopped. Nothing is committed: the next owner skips what the snapshots cover."""
        async def flushed() -> None:
            """The app has stopped its producer by now, which delivered what it held (or failed)."""
            with contextlib.suppress(Exception):
                await app.producer.flush()

        for states in (detect_states, grade_states):
            for partition in states.partitions:
                await states.checkpoint(partition, flushed)

    return PipelineApp(
        app=app,
        store=store,
        store_availability=availability,
        store_retry=store_retry,
        save_state=save_state,
        detect_states=detect_states,
        grade_states=grade_states,
    )

"""Riding out a store outage: retry the same store write until it lands, and say so while it lasts.

While PostgreSQL is down, restarting or failing over (or SQLite is locked), a store write fails
with a transient error (`riskwatch.alerts.store.errors.is_transient`). The agent that hit it
does not give the record up: `StoreRetry.until_done` holds it and tries the same write again
after a capped exponential backoff (0.5 s doubling to 15 s), for as long as it takes or until
the worker stops. The agent takes no next record meanwhile, so Faust commits nothing past it.
A permanent error is raised at once and the agent dead-letters the record.

A stopping worker calls `StoreRetry.stop()` first thing: Faust waits for every record in hand
to be acknowledged before it stops its agents, so a retry that went on would hold the shutdown
until the store is back. Stopped, `until_done` raises `RetryStopped` (the agent loop's
`GiveBack`): the loop withholds the record, so it is read again by the next worker, and the
agent waits for the worker to cancel it.

Periodic jobs (the health beat, the silence refresh) call `StoreRetry.once`: one attempt, or
none while an agent is already waiting for the store, and a transient failure is noted, not
raised.

`StoreAvailability` is what the worker knows about its store: since when it is unavailable,
how often it was retried, the last error, the records waiting for it, and the last outage
once it is over. Its start and end are logged once each (never every retry); it goes into the
worker's health snapshot and, since that snapshot lives in the unavailable database, into
`store_status.json` in the worker's data dir too (`read_store_status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from riskwatch.alerts.store.errors import describe, is_transient
from riskwatch.streams.agent_loop import GiveBack

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The file in a worker's data dir that holds its store availability.
STATUS_FILE = "store_status.json"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before retry number `attempt` (1, 2, …): `first_s` doubling up to `cap_s`."""

    first_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 15.0

    def delay(self, attempt: int) -> float:
        """The wait before the `attempt`-th retry."""
        return min(self.cap_s, self.first_s * self.factor ** max(attempt - 1, 0))


@dataclass
class Outage:
    """One stretch of time the store did not answer."""

    since: datetime
    retries: int = 0
    failures: int = 0
    last_error: str = ""
    until: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        """The outage as JSON-ready data (times in ISO 8601 UTC)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "seconds": round((self.until - self.since).total_seconds(), 3) if self.until else None,
            "retries": self.retries,
            "failures": self.failures,
            "last_error": self.last_error,
        }


class StoreAvailability:
    """Whether the worker's store answers, the outage going on if not, and the last one that ended.

    `status_path` (optional) is rewritten, atomically, with `snapshot()` whenever the state
    changes, so tools can read it while the database holding the health table is away.
    """

    def __init__(
        self,
        *,
        component: str = "",
        status_path: Path | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.component = component
        self.status_path = status_path
        self._clock = clock
        self.current: Outage | None = None
        self.last: Outage | None = None
        self.outages = 0
        self.retries_total = 0
        #: stage → the record it holds until the store is back ("topic[partition]@offset").
        self.waiting: dict[str, str] = {}

    @property
    def available(self) -> bool:
        """False from a transient failure until the next store operation succeeds."""
        return self.current is None

    def failed(self, stage: str, exc: BaseException, *, record: str | None = None, retrying: bool = False) -> None:
        """A store operation of `stage` failed with the transient `exc`; `record` is held if given.

        The first failure starts an outage and is logged; later ones only count.
        """
        now = self._clock()
        error = describe(exc)
        if self.current is None:
            self.current = Outage(since=now)
            self.outages += 1
            log.error("store unavailable (%s failed: %s); holding records and retrying until it is back", stage, error)
        self.current.failures += 1
        self.current.last_error = error
        if retrying:
            self.current.retries += 1
            self.retries_total += 1
        if record is not None:
            self.waiting[stage] = record
        self.write()

    def released(self, stage: str) -> None:
        """`stage` no longer holds a record (stored, given up, or the worker is stopping)."""
        if self.waiting.pop(stage, None) is not None:
            self.write()

    def recovered(self) -> Outage | None:
        """A store operation succeeded: end the outage (logged once); returns it, or None if there was none."""
        outage, self.current = self.current, None
        if outage is None:
            return None
        outage.until = self._clock()
        self.last = outage
        log.warning(
            "store available again after %.1f s unavailable (%d retries, last error: %s)",
            (outage.until - outage.since).total_seconds(), outage.retries, outage.last_error,
        )
        self.write()
        return outage

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready data: the `store` key of the worker's health payload."""
        current = self.current
        return {
            "available": current is None,
            "since": current.since.isoformat() if current else None,
            "retries": current.retries if current else 0,
            "last_error": current.last_error if current else None,
            "waiting": sorted(f"{stage}: {record}" for stage, record in self.waiting.items()),
            "outages": self.outages,
            "retries_total": self.retries_total,
            "last_outage": self.last.as_json() if self.last else None,
        }

    def write(self) -> None:
        """Rewrite the status file (if any) with the state now; done on every change, and once at
        start so a file left by an earlier worker does not speak for this one."""
        if self.status_path is None:
            return
        body = {"component": self.component, "updated_at": self._clock().isoformat(), **self.snapshot()}
        try:
            write_json_atomically(self.status_path, body)
        except OSError as exc:  # a full or read-only disk must not stop the retries
            log.warning("could not write %s: %s", self.status_path, exc)


def write_json_atomically(path: Path, body: dict[str, Any]) -> None:
    """Write `body` to `path` through a temporary file and a rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(partial, path)


def status_path(data_dir: Path) -> Path:
    """Where a worker with this data dir keeps its store availability."""
    return data_dir / STATUS_FILE


def read_store_status(data_dir: Path) -> dict[str, Any] | None:
    """The store availability a worker with this data dir last wrote, or None if it never wrote one."""
    try:
        body = json.loads(status_path(data_dir).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return body if isinstance(body, dict) else None


class RetryStopped(GiveBack):
    """The worker is stopping: the record held for the store is given back, not stored."""


class StoreRetry:
    """Runs store operations through outages, keeping `availability` up to date.

    `on_recovered` runs once whenever an operation succeeds after an outage (the worker writes
    its health snapshot then, so the outage is on record at once). `sleep` is the backoff wait;
    `stop()` or cancelling the caller interrupts it and ends `until_done` with a cancellation.
    """

    def __init__(
        self,
        availability: StoreAvailability,
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_recovered: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.availability = availability
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._on_recovered = on_recovered
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """The worker is stopping: end every retry now (and any later one at its first failure)."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        """The backoff wait, cut short by `stop()`: then `RetryStopped`."""
        if not self._stopping.is_set():
            stopped = asyncio.ensure_future(self._stopping.wait())
            nap = asyncio.ensure_future(self._sleep(seconds))
            try:
                await asyncio.wait({stopped, nap}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                nap.cancel()
        if self._stopping.is_set():
            raise RetryStopped(f"the worker is stopping; the record waits for the next worker ({seconds:.1f} s backoff)")

    async def until_done(self, stage: str, operation: Callable[[], T], *, record: str | None = None) -> T:
        """`operation()`, retried after each transient failure until it succeeds; a permanent error is raised.

        Ends with `RetryStopped` once `stop()` was called, or `CancelledError` if the caller is cancelled.
        """
        attempt = 0
        try:
            while True:
                try:
                    result = operation()
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    attempt += 1
                    self.availability.failed(stage, exc, record=record or stage, retrying=True)
                    log.debug("%s: store error, retry %d in %.1f s: %s", stage, attempt, self.backoff.delay(attempt), exc)
                    await self._pause(self.backoff.delay(attempt))
                    continue
                break
        finally:
            if attempt:
                self.availability.released(stage)
        await self._succeeded()
        return result

    async def once(self, stage: str, operation: Callable[[], T]) -> tuple[bool, T | None]:
        """One attempt of a periodic job: (True, result), or (False, None) when skipped or transiently failed.

        Skipped without trying during an outage in which an agent waits for the store (the agent
        probes it with backoff).
        A permanent error is raised.
        """
        if not self.availability.available and self.availability.waiting:
            return False, None
        try:
            result = operation()
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.availability.failed(stage, exc)
            return False, None
        await self._succeeded()
        return True, result

    async def _succeeded(self) -> None:
        if self.availability.recovered() is not None and self._on_recovered is not None:
            with contextlib.suppress(Exception):  # the beat logs its own failures; the record is stored
                await self._on_recovered()


def record_name(topic: str, partition: int, offset: int) -> str:
    """How a held record is named in the availability state."""
    return f"{topic}[{partition}]@{offset}"

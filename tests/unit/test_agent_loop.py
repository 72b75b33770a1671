"""The agent loop: every record handled or dead-lettered with the stage and reason, bookkeeping after each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from riskwatch.contracts import DeadLetter
from riskwatch.streams.agent_loop import RecordMessage, each_record


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int


@dataclass
class _Record:
    message: _Message
    value: bytes | None


class _Stream:
    def __init__(self, values: list[bytes | None]) -> None:
        self.records = [_Record(_Message("riskwatch.events", 1, offset), value) for offset, value in enumerate(values)]

    async def events(self) -> AsyncIterator[_Record]:
        for record in self.records:
            yield record


async def test_a_failing_record_is_dead_lettered_and_the_loop_goes_on() -> None:
    handled: list[bytes] = []
    letters: list[DeadLetter] = []
    after: list[int] = []

    async def handle(message: RecordMessage, raw: bytes) -> None:
        if raw == b"bad":
            raise ValueError("cannot read this")
        handled.append(raw)

    async def dead_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    async def note(message: RecordMessage) -> None:
        after.append(message.offset)

    await each_record(_Stream([b"a", b"bad", None, b"c"]), "detect", handle, dead_letter, after=note)

    assert handled == [b"a", b"", b"c"]  # an empty value is handed on as empty bytes
    assert [(d.reason, d.original, d.offset, d.partition, d.source_topic) for d in letters] == [
        ("detect_error", b"bad", 1, 1, "riskwatch.events")
    ]
    assert "ValueError: cannot read this" in letters[0].detail
    assert after == [0, 1, 2, 3], "bookkeeping runs after every record, failed ones included"


async def test_without_an_after_step_only_handling_happens() -> None:
    seen: list[int] = []

    async def handle(message: RecordMessage, raw: bytes) -> None:
        seen.append(message.offset)

    async def dead_letter(letter: DeadLetter) -> None:
        raise AssertionError(f"nothing should be dead-lettered: {letter}")

    await each_record(_Stream([b"x", b"y"]), "store", handle, dead_letter)
    assert seen == [0, 1]

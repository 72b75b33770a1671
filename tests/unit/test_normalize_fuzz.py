"""Fuzzing the normalize stage: any bytes on a raw topic become an Event or a DeadLetter with a
reason — never an exception, which in the worker would cost an agent its record.

Random inputs come from a fixed seed, so a failure names an input that reproduces.
"""

from __future__ import annotations

import random

import pytest

from riskwatch.config.loader import load_city_config
from riskwatch.config.regions import RegionIndex
from riskwatch.contracts import DeadLetter, Event, Source
from riskwatch.contracts.topics import RAW_TOPICS
from riskwatch.streams.pipeline import NormalizeStage
from tests.malformed_corpus import mutations, nasty_records, valid_record

SEED = 20261123
MUTATIONS_PER_SOURCE = 1500
RANDOM_BYTES_PER_SOURCE = 300
KNOWN_REASONS = {"invalid_json", "invalid_record", "unknown_region", "unknown_metric", "wrong_unit", "sensor_out_of_range"}


@pytest.fixture(scope="module")
def normalize() -> NormalizeStage:
    config = load_city_config()
    return NormalizeStage(config, RegionIndex(config.regions))


def _outcome(normalize: NormalizeStage, source: Source, raw: bytes, offset: int) -> Event | DeadLetter:
    try:
        result = normalize(source, raw, partition=0, offset=offset)
    except Exception as exc:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{source.value} input #{offset} raised {type(exc).__name__}: {exc}\ninput: {raw[:300]!r}")
    assert isinstance(result, Event | DeadLetter), f"{source.value} input #{offset} gave {type(result).__name__}"
    return result


def _check_letter(letter: DeadLetter, source: Source, raw: bytes, offset: int) -> None:
    assert letter.reason in KNOWN_REASONS, f"unexpected reason {letter.reason!r} for {raw[:200]!r}"
    assert letter.detail.strip(), f"no detail for {raw[:200]!r}"
    assert letter.original == raw
    assert letter.source_topic == RAW_TOPICS[source].name
    assert (letter.partition, letter.offset) == (0, offset)


@pytest.mark.parametrize("source", list(Source))
def test_the_valid_seed_record_is_an_event(normalize: NormalizeStage, source: Source) -> None:
    assert isinstance(_outcome(normalize, source, valid_record(source), 0), Event)


@pytest.mark.parametrize("source", list(Source))
def test_every_nasty_record_is_dead_lettered_with_its_reason(normalize: NormalizeStage, source: Source) -> None:
    corpus = nasty_records(source)
    for offset, raw in enumerate(corpus):
        result = _outcome(normalize, source, raw, offset)
        assert isinstance(result, DeadLetter), f"{source.value} corpus #{offset} was accepted: {raw[:200]!r}"
        _check_letter(result, source, raw, offset)


@pytest.mark.parametrize("source", list(Source))
def test_random_mutations_become_an_event_or_a_dead_letter(normalize: NormalizeStage, source: Source) -> None:
    rng = random.Random(f"{SEED}:{source.value}")
    outcomes = {"event": 0, "dead": 0}
    for offset, raw in enumerate(mutations(rng, source, MUTATIONS_PER_SOURCE)):
        result = _outcome(normalize, source, raw, offset)
        if isinstance(result, DeadLetter):
            _check_letter(result, source, raw, offset)
            outcomes["dead"] += 1
        else:
            assert result.source is source and result.region_code and result.category
            outcomes["event"] += 1
    # Both kinds of outcome occur, so the mutations neither all break nor all spare the record.
    assert outcomes["event"] > 0 and outcomes["dead"] > 0, outcomes


@pytest.mark.parametrize("source", list(Source))
def test_random_bytes_are_dead_lettered(normalize: NormalizeStage, source: Source) -> None:
    rng = random.Random(f"{SEED}:bytes:{source.value}")
    for offset in range(RANDOM_BYTES_PER_SOURCE):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 512)))
        result = _outcome(normalize, source, raw, offset)
        assert isinstance(result, DeadLetter), f"random bytes accepted as an event: {raw!r}"
        _check_letter(result, source, raw, offset)

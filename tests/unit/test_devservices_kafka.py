"""KafkaBroker's halt/resume/restart lifecycle, with a stand-in process instead of a JVM.

The stand-in is a real child process (a Python one-liner that logs a line and sleeps), so
signals, exit codes and the appended log are real; only "does it answer Kafka requests" is
replaced, by "the stand-in has logged its launch". The real broker's restart is exercised by tests/integration/test_broker_restart.py.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskwatch.tools.devservices import kafka
from riskwatch.tools.devservices.kafka import KafkaBroker, KafkaStartError, KafkaStateError

SLEEPER = "import os, sys, time; print('launched', os.getpid(), sys.argv[-1], flush=True); time.sleep(120)"
EXITS = "import sys; print('bad config', flush=True); sys.exit(3)"


@pytest.fixture
def broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KafkaBroker]:
    """A broker 'started' on `tmp_path` whose launches run the stand-in; it answers once the
    current process has logged its launch."""
    rw = KafkaBroker(startup_timeout=30)

    def answers(bootstrap: str) -> bool:
        return rw._proc is not None and any(line.split()[1] == str(rw._proc.pid) for line in _launches(rw))

    monkeypatch.setattr(kafka, "_port_open", lambda port: True)
    monkeypatch.setattr(kafka, "_answers", answers)
    monkeypatch.setattr(KafkaBroker, "_format_storage", lambda *args: pytest.fail("storage formatted again"))
    rw.tmpdir = tmp_path / "kafka"
    rw.tmpdir.mkdir()
    rw._write_config()
    rw._base = [sys.executable, "-c", SLEEPER]
    rw._launch()
    rw._wait_until_ready()
    yield rw
    rw.stop()


def _launches(broker: KafkaBroker) -> list[str]:
    return [line for line in broker.log_path.read_text().splitlines() if line.startswith("launched")]


def test_a_crash_restart_keeps_data_port_and_config(broker: KafkaBroker) -> None:
    first = broker._proc
    port, config, data = broker.port, broker.config_path.read_text(), broker.tmpdir
    assert first is not None and broker.is_running()

    assert broker.restart(kill=True) == f"127.0.0.1:{port}"

    assert first.returncode == -signal.SIGKILL
    assert broker.is_running() and broker._proc is not first
    assert (broker.port, broker.config_path.read_text(), broker.tmpdir) == (port, config, data)
    assert broker._proc is not None
    launches = [(line.split()[1], line.split()[2]) for line in _launches(broker)]  # the log is appended to
    assert launches == [(str(first.pid), str(broker.config_path)), (str(broker._proc.pid), str(broker.config_path))]


def test_halt_terminates_gently_by_default_and_keeps_everything(broker: KafkaBroker) -> None:
    proc = broker._proc
    broker.halt()
    assert proc is not None and proc.returncode == -signal.SIGTERM
    assert not broker.is_running()
    assert broker.config_path.is_file() and broker.bootstrap == f"127.0.0.1:{broker.port}"


def test_stop_after_a_halt_deletes_the_files(broker: KafkaBroker) -> None:
    data = broker.tmpdir
    broker.halt(kill=True)
    broker.stop()
    assert data is not None and not data.exists()
    assert broker.port is None and broker.tmpdir is None


def test_calls_out_of_order_say_what_to_do(broker: KafkaBroker) -> None:
    with pytest.raises(KafkaStateError, match="halt"):
        broker.resume()
    broker.halt()
    with pytest.raises(KafkaStateError, match="resume"):
        broker.start()
    fresh = KafkaBroker()
    with pytest.raises(KafkaStateError, match="start"):
        fresh.resume()
    with pytest.raises(KafkaStateError, match="not started"):
        fresh.halt()


def test_a_resume_that_dies_reports_the_log_and_leaves_the_broker_halted(broker: KafkaBroker) -> None:
    broker.halt(kill=True)
    broker._base = [sys.executable, "-c", EXITS]
    with pytest.raises(KafkaStartError, match=r"exited with code 3:\n(.|\n)*bad config"):
        broker.resume()
    assert not broker.is_running() and broker.config_path.is_file()

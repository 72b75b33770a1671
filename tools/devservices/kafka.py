"""A real, throwaway Apache Kafka broker for tests and local runs (no Docker).

The broker jars are resolved from Maven Central with ``mvn`` using the
``kafka-pom.xml`` shipped next to this module and cached under
``~/.cache/riskwatch/kafka/kafka-<version>/libs`` (override the root with
``RISKWATCH_KAFKA_CACHE`` and the version with ``RISKWATCH_KAFKA_VERSION``).

The broker runs in KRaft combined mode (one JVM acting as broker and
controller) with all state in a temporary directory that is removed on stop::

    with KafkaBroker() as broker:
        broker.bootstrap  # "127.0.0.1:PORT"
        broker.restart(kill=True)  # a crash: same data, same port, back when it answers

``halt()`` and ``resume()`` are the two halves of ``restart()``, for tests that
need to act while the broker is down.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from importlib import resources
from pathlib import Path
from types import TracebackType

DEFAULT_KAFKA_VERSION = "4.2.0"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
DEFAULT_JVM_OPTS = (
    "-Xmx512m",
    "-Xms128m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class KafkaUnavailable(RuntimeError):
    """Java, Maven or the Kafka jars are missing, so no broker can be started."""


class KafkaStartError(RuntimeError):
    """The broker was launched but did not come up; the message has its log tail."""


class KafkaStateError(RuntimeError):
    """A lifecycle call that does not fit the broker's state (e.g. resume before start)."""


def kafka_version() -> str:
    """Kafka version to run: ``RISKWATCH_KAFKA_VERSION`` or the default."""
    return os.environ.get("RISKWATCH_KAFKA_VERSION") or DEFAULT_KAFKA_VERSION


def cache_root() -> Path:
    """Directory holding ``kafka-<version>/libs`` jar caches."""
    env = os.environ.get("RISKWATCH_KAFKA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "riskwatch" / "kafka"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_java() -> str:
    """Path of the ``java`` executable, or raise :class:`KafkaUnavailable`."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home, "bin", "java") if java_home else None
    if candidate and candidate.is_file():
        return str(candidate)
    java = shutil.which("java")
    if not java:
        raise KafkaUnavailable("no `java` on PATH (Kafka needs a Java 17+ runtime)")
    return java


def _libs_complete(libs: Path, version: str) -> bool:
    return (libs / f"kafka_2.13-{version}.jar").is_file()


def _run_maven(pom: Path, version: str, out_dir: Path) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaUnavailable("no `mvn` on PATH to fetch the Kafka jars from Maven Central")
    cmd = [
        mvn, "-q", "-B", "-f", str(pom),
        f"-Dkafka.version={version}", "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={out_dir}",
    ]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        output = ANSI_ESCAPE.sub("", proc.stdout + proc.stderr).strip()[-4000:]
        raise KafkaUnavailable(f"mvn could not fetch Kafka {version} jars:\n{output}")


def fetch_kafka_jars(version: str | None = None) -> Path:
    """Download the Kafka broker jars once and return the ``libs`` directory.

    Jars land in a scratch directory that is renamed into place only when Maven
    succeeds, so an interrupted fetch never leaves a half-filled cache behind.
    """
    version = version or kafka_version()
    libs = cache_root() / f"kafka-{version}" / "libs"
    if _libs_complete(libs, version):
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    try:
        with resources.as_file(resources.files(__package__) / "kafka-pom.xml") as pom:
            _run_maven(pom, version, scratch)
        if not _libs_complete(scratch, version):
            raise KafkaUnavailable(f"mvn finished but kafka_2.13-{version}.jar is missing")
        with contextlib.suppress(OSError):  # a concurrent fetch may have won the race
            scratch.rename(libs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not _libs_complete(libs, version):
        raise KafkaUnavailable(f"Kafka jar cache {libs} is incomplete")
    return libs


def generate_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    """Single-node KRaft (broker + controller) config tuned for fast tests."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "auto.create.topics.enable": "true",
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "log.segment.bytes": str(8 * 1024 * 1024),
        "log.index.size.max.bytes": str(1024 * 1024),
        "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
        "log.retention.check.interval.ms": "60000",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the broker when its parent dies (Linux only).

    The kernel signals on exit of the *thread* that spawned the child, so start
    brokers from a long-lived thread (the main thread in pytest and the CLI).
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def tail(path: Path, lines: int = 60) -> str:
    """Last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
        return True
    return False


def _answers(bootstrap: str) -> bool:
    """True once the broker serves a metadata request."""
    from kafka import KafkaAdminClient  # kafka-python

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="riskwatch-devservices",
            request_timeout_ms=5000, bootstrap_timeout_ms=5000,
        )
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


class KafkaBroker:
    """A single-node KRaft Kafka broker in a temp dir, on free 127.0.0.1 ports.

    Lifecycle: ``start()`` formats storage and launches; ``halt()`` stops the JVM but keeps
    its data and ports; ``resume()`` launches it again from the same config; ``restart()``
    is both; ``stop()`` stops it and deletes everything.
    """

    def __init__(
        self,
        version: str | None = None,
        startup_timeout: float = 120.0,
        jvm_opts: tuple[str, ...] = DEFAULT_JVM_OPTS,
    ) -> None:
        self.version = version or kafka_version()
        self.startup_timeout = startup_timeout
        self.jvm_opts = jvm_opts
        self.tmpdir: Path | None = None
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._base: list[str] | None = None  # java, JVM options and classpath, fixed at start

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:PORT`` of the broker (kept while it is halted)."""
        if self.port is None:
            raise RuntimeError("KafkaBroker is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's combined stdout/stderr/log4j output, across restarts."""
        if self.tmpdir is None:
            raise RuntimeError("KafkaBroker is not started")
        return self.tmpdir / "broker.log"

    @property
    def config_path(self) -> Path:
        """The ``server.properties`` every launch of this broker uses."""
        if self.tmpdir is None:
            raise RuntimeError("KafkaBroker is not started")
        return self.tmpdir / "server.properties"

    def is_running(self) -> bool:
        """True while the broker JVM process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Fetch jars if needed, format storage, launch and wait; return bootstrap."""
        if self._proc is not None:
            return self.bootstrap
        if self.tmpdir is not None:
            raise KafkaStateError("KafkaBroker is halted: call resume() to launch it on its data, or stop() first")
        java = require_java()
        libs = fetch_kafka_jars(self.version)
        self.tmpdir = Path(tempfile.mkdtemp(prefix="riskwatch-kafka-"))
        try:
            config = self._write_config()
            self._base = [java, *self.jvm_opts,
                          f"-Dlog4j2.configurationFile={config.parent / 'log4j2.properties'}",
                          "-cp", str(libs / "*")]
            self._format_storage(self._base, config)
            self._launch()
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def halt(self, *, kill: bool = False, timeout: float = 20.0) -> None:
        """Stop the JVM but keep its data directory and ports, so ``resume()`` brings the same
        cluster back.

        ``kill=True`` sends SIGKILL, as a crash or power loss of the broker would end it (no
        controlled shutdown, no clean-shutdown marker, log recovery on the next launch);
        otherwise SIGTERM, with SIGKILL after ``timeout`` s.
        """
        if self.tmpdir is None:
            raise KafkaStateError("KafkaBroker is not started: nothing to halt")
        proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc, signal.SIGKILL if kill else signal.SIGTERM, timeout)

    def resume(self) -> str:
        """Launch the halted broker again from its ``server.properties`` and data (no new
        format, same cluster id and ports) and wait until it answers; return bootstrap."""
        if self.tmpdir is None or self._base is None:
            raise KafkaStateError("KafkaBroker is not started: call start() before resume()")
        if self.is_running():
            raise KafkaStateError(f"KafkaBroker on {self.bootstrap} is running: halt() it before resume()")
        try:
            self._launch()
            self._wait_until_ready()
        except BaseException:
            self.halt(kill=True)
            raise
        return self.bootstrap

    def restart(self, *, kill: bool = False, timeout: float = 20.0) -> str:
        """``halt(kill=kill)`` then ``resume()``: the same broker, with its topics, records and
        committed offsets, back on the same bootstrap port."""
        self.halt(kill=kill, timeout=timeout)
        return self.resume()

    def _write_config(self) -> Path:
        assert self.tmpdir is not None
        self.port, controller_port = free_port(), free_port()
        while controller_port == self.port:
            controller_port = free_port()
        config = self.config_path
        config.write_text(server_properties(self.tmpdir / "data", self.port, controller_port))
        (self.tmpdir / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        return config

    def _format_storage(self, base: list[str], config: Path) -> None:
        # `--cluster-id=ID` in one argument: a URL-safe id may begin with "-", which the tool
        # would otherwise read as an option.
        cmd = [*base, STORAGE_TOOL_CLASS, "format", f"--cluster-id={generate_cluster_id()}", "-c", str(config)]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            raise KafkaStartError(f"kafka StorageTool format failed:\n{proc.stdout}{proc.stderr}")

    def _command(self) -> list[str]:
        """The broker's command line: the same for every launch of this broker."""
        assert self._base is not None
        return [*self._base, MAIN_CLASS, str(self.config_path)]

    def _launch(self) -> None:
        with open(self.log_path, "ab") as log:  # appended: a restart keeps the previous run's log
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.tmpdir, start_new_session=True, preexec_fn=_die_with_parent,
            )

    def _wait_until_ready(self) -> None:
        assert self._proc is not None and self.port is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise KafkaStartError(
                    f"Kafka exited with code {self._proc.returncode}:\n{tail(self.log_path)}")
            if _port_open(self.port) and _answers(self.bootstrap):
                return
            time.sleep(0.25)
        raise KafkaStartError(
            f"Kafka did not answer on {self.bootstrap} within {self.startup_timeout:.0f}s:\n"
            f"{tail(self.log_path)}")

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate the broker (SIGKILL after ``timeout`` s) and delete its files."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc, signal.SIGTERM, timeout)
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        self.port = None
        self._base = None

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _end(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> None:
    """Send `sig` to a running broker process and reap it (SIGKILL if it outlives `timeout` s)."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

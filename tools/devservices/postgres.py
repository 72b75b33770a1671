"""A throwaway PostgreSQL server for tests and local runs (no Docker).

Uses the server binaries on PATH or under ``/usr/lib/postgresql/<ver>/bin``
(Debian's ``postgresql`` package). The cluster lives in a temp dir, listens on
127.0.0.1 on a free port with trust auth, and is deleted on stop::

    with PostgresServer() as server:
        server.url  # postgresql+psycopg://postgres@127.0.0.1:PORT/riskwatch_test
        server.halt()  # down: connections refused, data and port kept
        server.resume()  # the same cluster back on the same port

``halt()`` and ``resume()`` are the two halves of ``restart()``, for tests that need to act
while the database is down.

``initdb`` refuses to run as root, so as root the cluster is owned by and run
as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

DATABASE = "riskwatch_test"
SUPERUSER = "postgres"
BINARIES = ("pg_ctl", "initdb", "postgres")
DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (or no user to run them as)."""


class PostgresStartError(RuntimeError):
    """The server was launched but did not come up; the message has its log tail."""


class PostgresStateError(RuntimeError):
    """A lifecycle call that does not fit the server's state (e.g. resume before start)."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)


def find_bindir() -> Path:
    """Directory holding ``pg_ctl``, ``initdb`` and ``postgres`` (highest version)."""
    on_path = [shutil.which(name) for name in BINARIES]
    if all(on_path):
        return Path(on_path[0]).resolve().parent  # type: ignore[arg-type]
    candidates = sorted(Path("/").glob(DEBIAN_GLOB.lstrip("/")), key=_version_key, reverse=True)
    for bindir in candidates:
        if all((bindir / name).is_file() for name in BINARIES):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (pg_ctl, initdb, postgres) not found on PATH "
        f"or in {DEBIAN_GLOB}; install the `postgresql` package")


def _run_as() -> dict[str, Any]:
    """subprocess kwargs that drop root to the ``postgres`` user (empty if not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pw = pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(
            "running as root but there is no `postgres` system user for initdb") from None
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [],
            "env": {**os.environ, "HOME": pw.pw_dir, "USER": SUPERUSER, "LOGNAME": SUPERUSER}}


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def server_settings(port: int, socket_dir: Path) -> str:
    """postgresql.conf lines: loopback only, private socket dir, no durability."""
    return (
        "\n# riskwatch devservices\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{socket_dir}'\n"
        "fsync = off\n"
        "synchronous_commit = off\n"
        "full_page_writes = off\n"
        "max_connections = 50\n"
        "shared_buffers = 32MB\n"
    )


class PostgresServer:
    """A PostgreSQL cluster in a temp dir on a free 127.0.0.1 port, trust auth.

    Lifecycle: ``start()`` creates and launches it; ``halt()`` stops the server but keeps its
    data dir and port; ``resume()`` starts it again on them; ``restart()`` is both; ``stop()``
    stops it and deletes everything.
    """

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        self.tmpdir: Path | None = None
        self.port: int | None = None
        self._bindir: Path | None = None
        self._as_user: dict[str, Any] = {}

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``riskwatch_test`` database."""
        if self.port is None:
            raise RuntimeError("PostgresServer is not started")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data_dir(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "data"

    @property
    def log_path(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "postgres.log"

    def is_running(self) -> bool:
        """True while the server's postmaster is up (its pid file exists)."""
        return self.tmpdir is not None and (self.data_dir / "postmaster.pid").exists()

    def start(self) -> str:
        """initdb, start, wait, create the test database; return the SQLAlchemy URL."""
        if self.port is not None:
            if not self.is_running():
                raise PostgresStateError("PostgresServer is halted: call resume() to start it on its data, or stop() first")
            return self.url
        self._bindir = find_bindir()
        self._as_user = _run_as()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="riskwatch-pg-"))
        try:
            self._initdb()
            self._configure()
            self._pg_ctl("start", "-w", "-t", str(int(self.startup_timeout)), "-l", str(self.log_path))
            self._wait_and_create_database()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _run(self, name: str, *args: str) -> None:
        assert self._bindir is not None and self.tmpdir is not None
        proc = subprocess.run(
            [str(self._bindir / name), *args], cwd=self.tmpdir, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, **self._as_user)
        if proc.returncode != 0:
            raise PostgresStartError(
                f"{name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
                f"{_tail(self.log_path)}")

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), *args)

    def _initdb(self) -> None:
        assert self.tmpdir is not None
        if self._as_user:
            _chown_tree(self.tmpdir, self._as_user["user"], self._as_user["group"])
        self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")

    def _configure(self) -> None:
        assert self.tmpdir is not None
        self.port = free_port()
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(server_settings(self.port, self.tmpdir))

    def _wait_and_create_database(self) -> None:
        self._when_accepting("postgres", f'CREATE DATABASE "{DATABASE}"')

    def _when_accepting(self, dbname: str, statement: str) -> None:
        """Connect to `dbname` until the server accepts, then run `statement`."""
        import psycopg

        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                                     dbname=dbname, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(statement)
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresStartError(
                        f"PostgreSQL did not accept connections: {exc}\n{_tail(self.log_path)}"
                    ) from exc
                time.sleep(0.2)

    def halt(self, *, mode: str = "fast") -> None:
        """Stop the server but keep its data dir and port, so ``resume()`` brings the same
        cluster back.

        ``mode`` is pg_ctl's: ``fast`` (clients are disconnected, a clean shutdown) or
        ``immediate`` (every process ends at once, as in a crash; recovery on the next start).
        With this server's ``synchronous_commit = off``, a crash loses the last commits too
        (those the WAL writer had not written yet), as it would in production with that setting.
        """
        if self.tmpdir is None or self.port is None:
            raise PostgresStateError("PostgresServer is not started: nothing to halt")
        if mode not in {"fast", "immediate", "smart"}:
            raise ValueError(f"unknown shutdown mode {mode!r}: fast, immediate or smart")
        if self.is_running():
            self._pg_ctl("stop", "-m", mode, "-w", "-t", "30")

    def resume(self) -> str:
        """Start the halted server on its data dir and port and wait until the test database
        accepts connections; return the SQLAlchemy URL (unchanged)."""
        if self.tmpdir is None or self.port is None or self._bindir is None:
            raise PostgresStateError("PostgresServer is not started: call start() before resume()")
        if self.is_running():
            raise PostgresStateError(f"PostgresServer on port {self.port} is running: halt() it before resume()")
        self._pg_ctl("start", "-w", "-t", str(int(self.startup_timeout)), "-l", str(self.log_path))
        self._when_accepting(DATABASE, "SELECT 1")
        return self.url

    def restart(self, *, mode: str = "fast") -> str:
        """``halt(mode=mode)`` then ``resume()``: the same cluster, with its data, on the same port."""
        self.halt(mode=mode)
        return self.resume()

    def stop(self) -> None:
        """Fast-shutdown the server (if running) and delete its files."""
        if self.tmpdir is not None and (self.data_dir / "postmaster.pid").exists():
            try:
                self._pg_ctl("stop", "-m", "fast", "-w", "-t", "30")
            except PostgresStartError:
                self._pg_ctl("stop", "-m", "immediate", "-w")
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        self.port = None

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

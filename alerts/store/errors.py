"""Which store errors pass (retry the same work later) and which never will (give the record up).

A store outage must not cost a warning: while PostgreSQL is down, restarting or failing over,
or SQLite is locked by another writer, the same write succeeds later. Those errors are
*transient*: connection refused or lost, the server shutting down, a serialization failure
(SQLSTATE 40001) or deadlock (40P01), too many connections, a read-only standby during a
failover, SQLite busy or locked. Everything else (an integrity or data error, a missing table,
a validation error in our own code) is *permanent*: retrying would fail the same way.

`is_transient` reads SQLAlchemy's wrappers (`DBAPIError.connection_invalidated`, pool timeouts,
disconnections) and the driver's own codes (psycopg's SQLSTATE, sqlite3's result code).
`describe` names an error for logs and health snapshots without the SQL statement and its
parameters, which SQLAlchemy puts in its message and which may hold warning text.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa

__all__ = ["describe", "is_transient"]

#: SQLSTATE classes that are about the connection or the server's resources, never the statement.
TRANSIENT_SQLSTATE_CLASSES = frozenset({
    "08",  # connection exception (refused, lost, failure)
    "53",  # insufficient resources (too many connections, disk full, out of memory)
    "57",  # operator intervention (admin/crash shutdown, cannot connect now, query canceled)
    "58",  # system error (I/O error)
})
#: Single SQLSTATEs outside those classes that succeed when the transaction is run again.
TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "40003",  # statement_completion_unknown
    "55P03",  # lock_not_available
    "25006",  # read_only_sql_transaction: connected to a standby during a failover
})
#: sqlite3 primary result codes that pass: busy or locked by another connection, I/O and a full
#: or unopenable file (a volume that is away), a locking protocol error.
TRANSIENT_SQLITE_CODES = frozenset({
    5,  # SQLITE_BUSY: "database is locked"
    6,  # SQLITE_LOCKED
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
})
#: How many wrapped causes (`__cause__`/`__context__`) are followed looking for a driver error.
_MAX_DEPTH = 5
#: Longest error description kept.
_MAX_DESCRIPTION = 300


def _driver_verdict(error: BaseException) -> bool | None:
    """True/False when the driver error's own code decides, None when it says nothing."""
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            return (code & 0xFF) in TRANSIENT_SQLITE_CODES
        return "database is locked" in str(error) or "database table is locked" in str(error)
    psycopg_classes = {cls.__name__ for cls in type(error).__mro__ if cls.__module__.startswith("psycopg")}
    if psycopg_classes:
        # A psycopg error with no SQLSTATE never got the server's answer: connecting failed, it
        # timed out, or the connection broke mid-statement. (Read by name: importing psycopg
        # costs more than a SQLite-only store should pay.)
        return bool(psycopg_classes & {"OperationalError", "InterfaceError"})
    return None


def _verdict(error: BaseException) -> bool | None:
    if isinstance(error, sa.DBAPIError):
        if error.connection_invalidated:
            return True
        if error.orig is not None and (verdict := _driver_verdict(error.orig)) is not None:
            return verdict
        # A driver we cannot read: DB-API's OperationalError and InterfaceError are about the
        # database's operation and the connection, not about the statement.
        return isinstance(error, sa.OperationalError | sa.InterfaceError)
    if isinstance(error, sa.DisconnectionError | sa.TimeoutError):
        return True  # a pre-ping found the connection dead; the pool had no connection in time
    if isinstance(error, sa.SQLAlchemyError):
        return None
    if (verdict := _driver_verdict(error)) is not None:
        return verdict
    if isinstance(error, ConnectionError):
        return True
    return None


def is_transient(exc: BaseException) -> bool:
    """True if `exc` is a store error that passes, so the same write should be tried again.

    The exception itself decides first; an error raised while handling a store error (or
    `from` one) is judged by that store error.
    """
    seen: set[int] = set()
    error: BaseException | None = exc
    for _ in range(_MAX_DEPTH):
        if error is None or id(error) in seen:
            break
        seen.add(id(error))
        verdict = _verdict(error)
        if verdict is not None:
            return verdict
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    return False


def describe(exc: BaseException) -> str:
    """`Type: message` of the error (the driver's, for a SQLAlchemy wrapper), on one short line.

    SQLAlchemy's own message repeats the statement and its parameters; the driver's does not.
    """
    error = exc.orig if isinstance(exc, sa.DBAPIError) and exc.orig is not None else exc
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"

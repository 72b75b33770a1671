"""Unexpected errors answer 500 with a JSON body that names no internals; a store that does not
answer, 503.

The traceback goes to the server log (with the request's method and path) and never to the
caller, whatever the role: a stack trace tells an attacker the code, paths and queries. A
transient store error (the database down, restarting, failing over or locked; see
`riskwatch.alerts.store.errors`) answers 503 `{"detail": STORE_UNAVAILABLE, "store":
"unavailable"}` with `Retry-After`, so a client (the web view) shows the store as unavailable
rather than a broken server, also where checking the caller's token needed the store.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from riskwatch.alerts.store.errors import describe, is_transient

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal error; the server log has the details"
STORE_UNAVAILABLE = "存储不可用 / store unavailable"
#: Seconds a client is asked to wait before trying again while the store is unavailable.
RETRY_AFTER_S = 5


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": INTERNAL_ERROR}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_transient(exc):
        return await _internal_error(request, exc)
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, describe(exc))
    return JSONResponse(
        {"detail": STORE_UNAVAILABLE, "store": "unavailable"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install_error_handler(app: FastAPI) -> None:
    """Answer a transient store error with 503 and every other unhandled exception with 500."""
    app.add_exception_handler(SQLAlchemyError, _store_error)
    app.add_exception_handler(Exception, _internal_error)

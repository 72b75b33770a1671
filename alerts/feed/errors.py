"""Unexpected errors answer 500 with a JSON body that names no internals.

The traceback goes to the server log (with the request's method and path) and never to the
caller, whatever the role: a stack trace tells an attacker the code, paths and queries.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal error; the server log has the details"


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": INTERNAL_ERROR}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


def install_error_handler(app: FastAPI) -> None:
    """Answer every unhandled exception with `{"detail": INTERNAL_ERROR}` and status 500."""
    app.add_exception_handler(Exception, _internal_error)

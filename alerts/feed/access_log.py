"""Keep API tokens out of the access log.

EventSource cannot send headers, so the web view's live stream passes its token as
`?token=…`; uvicorn's access log writes the whole path with its query, which would put a
working token in every log file. This filter masks the value before the line is written.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
_TOKEN_PARAM = re.compile(r"(?i)([?&]token=)[^&#\s]*")
MASK = "***"


def mask_tokens(text: str) -> str:
    """`text` with the value of every `token` query parameter replaced by ***."""
    return _TOKEN_PARAM.sub(lambda m: m.group(1) + MASK, text)


class TokenMaskingFilter(logging.Filter):
    """Rewrites the arguments (and message) of access-log records so no token is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(mask_tokens(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = mask_tokens(record.msg)
        return True


def install_token_masking(logger_name: str = ACCESS_LOGGER) -> None:
    """Add the filter to the access logger once (idempotent: apps may be created many times)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, TokenMaskingFilter) for f in logger.filters):
        logger.addFilter(TokenMaskingFilter())

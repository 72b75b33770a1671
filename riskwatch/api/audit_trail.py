"""Audit entries for reads of unmasked personal data, written the same way by every route.

Commanders and operators see warnings unmasked; each such read (detail, list, live stream,
restricted CAP) leaves an entry naming who read what, so "who saw this caller's phone number"
can be answered from GET /api/audit. Masked reads (analysts, the public) are not personal-data
reads and are not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskwatch.alerts.tokens import Identity
from riskwatch.api.access import sees_personal_data
from riskwatch.api.context import ApiContext
from riskwatch.schemas import Warning

READ_WARNING = "read.warning"
READ_WARNINGS = "read.warnings"
READ_STREAM = "read.stream"
READ_CAP = "read.cap"

LIST_TARGET = "/api/warnings"
STREAM_TARGET = "/api/stream"


def record_unmasked_read(ctx: ApiContext, who: Identity, action: str, target: str, detail: str) -> bool:
    """Audit `who` reading `target` unmasked (blocking); False, and nothing written, for masked roles."""
    if not sees_personal_data(who):
        return False
    ctx.store.audit(actor=who.name, role=who.role.value, action=action, target=target, detail=detail)
    return True


def record_unmasked_list(ctx: ApiContext, who: Identity, warnings: Sequence[Warning]) -> bool:
    """One entry per list request naming every warning (and version) it returned unmasked."""
    if not warnings:
        return False
    shown = ", ".join(f"{w.warning_id} v{w.version}" for w in warnings)
    return record_unmasked_read(ctx, who, READ_WARNINGS, LIST_TARGET, f"{len(warnings)} unmasked: {shown}")

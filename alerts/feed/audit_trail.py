"""Audit entries for reads of unmasked personal data, written the same way by every route.

Commanders and operators see warnings unmasked; each such read (detail, list, live stream,
restricted CAP) leaves an entry naming who read what, so "who saw this caller's phone number"
can be answered from GET /api/audit. Masked reads (analysts, the public) are not personal-data
reads and are not recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskwatch.alerts.feed.access import sees_personal_data
from riskwatch.alerts.feed.context import ApiContext
from riskwatch.alerts.store.audit import AuditRecord
from riskwatch.alerts.store.tokens import Identity
from riskwatch.contracts import Warning

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
    ctx.store.audit_log.append(actor=who.name, role=who.role.value, action=action, target=target, detail=detail)
    return True


def record_unmasked_list(ctx: ApiContext, who: Identity, warnings: Sequence[Warning]) -> bool:
    """One entry per warning a list request returned unmasked, targeted at that warning (one transaction).

    Per warning rather than per request, so GET /api/audit?target=<warning id> finds list reads
    beside detail reads; False, and nothing written, for masked roles or an empty list.
    """
    if not warnings or not sees_personal_data(who):
        return False
    ctx.store.audit_log.append_many(
        [
            AuditRecord(
                actor=who.name,
                role=who.role.value,
                action=READ_WARNINGS,
                target=w.warning_id,
                detail=f"unmasked in {LIST_TARGET}, version {w.version}",
            )
            for w in warnings
        ]
    )
    return True

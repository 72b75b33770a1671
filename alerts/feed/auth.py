"""Who is calling: bearer tokens (header or `?token=` for EventSource) resolved by the store.

Missing or unknown tokens are 401. Refusals are raised through `refuse`, which writes the
refusal to the audit log before answering 403, so denied attempts are as visible as granted ones.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from riskwatch.alerts.feed.access import Decision, may_use_internal_api
from riskwatch.alerts.feed.context import ApiContext, get_context
from riskwatch.alerts.store.tokens import Identity

_SCHEME = "bearer"


def token_of(request: Request) -> str | None:
    """The token from `Authorization: Bearer …`, else from the `token` query parameter."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == _SCHEME and value.strip():
            return value.strip()
        return None
    return request.query_params.get("token") or None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def optional_identity(request: Request, ctx: Annotated[ApiContext, Depends(get_context)]) -> Identity | None:
    """The caller, or None without a token; a token that is given but unknown is still 401."""
    token = token_of(request)
    if token is None:
        return None
    identity = ctx.store.tokens.identify(token)
    if identity is None:
        raise _unauthorized("unknown or revoked token")
    return identity


def identity(identity: Annotated[Identity | None, Depends(optional_identity)]) -> Identity:
    """The caller; 401 without a token."""
    if identity is None:
        raise _unauthorized("missing token: send 'Authorization: Bearer <token>' or '?token=<token>'")
    return identity


def refuse(ctx: ApiContext, who: Identity, action: str, target: str, decision: Decision) -> HTTPException:
    """Audit a refused `action` on `target` and return the 403 to raise."""
    ctx.store.audit_log.append(actor=who.name, role=who.role.value, action=f"denied.{action}", target=target, detail=decision.reason)
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=decision.reason)


def internal_identity(
    who: Annotated[Identity, Depends(identity)], ctx: Annotated[ApiContext, Depends(get_context)], request: Request
) -> Identity:
    """The caller, who must hold an internal role (not `public`)."""
    decision = may_use_internal_api(who)
    if not decision:
        raise refuse(ctx, who, "read", request.url.path, decision)
    return who


Caller = Annotated[Identity, Depends(internal_identity)]
AnyCaller = Annotated[Identity, Depends(identity)]
MaybeCaller = Annotated[Identity | None, Depends(optional_identity)]
Context = Annotated[ApiContext, Depends(get_context)]

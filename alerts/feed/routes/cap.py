"""The public CAP 1.2 / Atom feed: two stable paths outside tools read.

- GET /cap/feed.atom — every public warning at its public version, district-level area,
  each entry linking to its CAP message. No token.
- GET /cap/{warning_id}.xml — without a token, the CAP message of the warning's public
  version (404 if it has none); with an internal token that may read the warning, its
  current version (scope Restricted until it is public), masked for analysts.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, Response, status

from riskwatch.alerts.disposal.publication import PublicationState
from riskwatch.alerts.feed.access import mask_for_public, may_read_warning, view_of
from riskwatch.alerts.feed.atom import cap_atom_feed, feed_url
from riskwatch.alerts.feed.audit_trail import READ_CAP, record_unmasked_read
from riskwatch.alerts.feed.auth import Context, MaybeCaller
from riskwatch.alerts.feed.cap import CAP_MIME_TYPE, CapBuildError, warning_to_cap
from riskwatch.alerts.feed.context import ApiContext
from riskwatch.alerts.feed.queries import department_of
from riskwatch.alerts.store.tokens import Identity
from riskwatch.contracts import Warning

router = APIRouter(prefix="/cap", tags=["CAP and Atom (public)"])

ATOM_MEDIA_TYPE = "application/atom+xml"
FEED_LIMIT = 200


def _references(versions: list[Warning], before: int) -> list[tuple[str, int, datetime]]:
    """(warning_id, version, sent) of every earlier message, oldest first."""
    return [(v.warning_id, v.version, v.updated_at) for v in versions if v.version < before]


def _cap(ctx: ApiContext, shown: Warning, versions: list[Warning], *, public: bool) -> Response:
    """The CAP message of `shown` (its area polygon is that of its, possibly coarsened, region)."""
    try:
        xml = warning_to_cap(
            shown, sender=ctx.options.cap_sender, references=_references(versions, shown.version), public=public
        )
    except CapBuildError as exc:
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR, detail=f"cannot publish {shown.warning_id} as CAP: {exc}"
        ) from exc
    return Response(xml, media_type=CAP_MIME_TYPE)


def _internal(ctx: ApiContext, who: Identity, warning: Warning) -> Response:
    publication = ctx.store.publications.get(warning.warning_id)
    public = (
        publication is not None
        and publication.state is PublicationState.public
        and publication.public_version == warning.version
    )
    record_unmasked_read(ctx, who, READ_CAP, warning.warning_id, f"version {warning.version}")
    return _cap(ctx, view_of(warning, who, ctx.regions), ctx.store.warnings.versions(warning.warning_id), public=public)


def _public(ctx: ApiContext, warning_id: str) -> Response:
    publication = ctx.store.publications.get(warning_id)
    if publication is None or publication.public_version is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"warning {warning_id!r} has no public message")
    versions = ctx.store.warnings.versions(warning_id)
    public = next((v for v in versions if v.version == publication.public_version), None)
    if public is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"warning {warning_id!r} has no public message")
    return _cap(ctx, mask_for_public(public, ctx.regions), versions, public=True)


@router.get("/feed.atom", response_class=Response, responses={200: {"content": {ATOM_MEDIA_TYPE: {}}}})
def feed(request: Request, ctx: Context) -> Response:
    """Atom 1.0 feed of the public warnings, newest first, each linking to /cap/{id}.xml."""
    entries = [mask_for_public(w, ctx.regions) for w in ctx.store.publications.public_warnings(limit=FEED_LIMIT)]
    base_url = str(request.base_url).rstrip("/")
    updated = max((w.updated_at for w in entries), default=ctx.clock.now())
    xml = cap_atom_feed(
        entries, base_url=base_url, feed_id=feed_url(base_url), title=ctx.options.feed_title, updated=updated
    )
    return Response(xml, media_type=ATOM_MEDIA_TYPE)


@router.get("/{warning_id}.xml", response_class=Response, responses={200: {"content": {CAP_MIME_TYPE: {}}}, 404: {}})
def cap_message(warning_id: str, ctx: Context, who: MaybeCaller) -> Response:
    """CAP 1.2: the public version for everyone, the current one for roles that may read it."""
    warning = ctx.store.warnings.get(warning_id)
    if warning is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no warning {warning_id!r}")
    disposal = ctx.store.disposals.get(warning_id)
    if who is not None and may_read_warning(who, department_of(warning, disposal)):
        return _internal(ctx, who, warning)
    return _public(ctx, warning_id)

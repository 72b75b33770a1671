"""The command-center web view: `/` serves static/index.html, `/static/*` its assets (no token)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    """The single-page web view; it asks for a token itself."""
    page = STATIC_DIR / "index.html"
    if not page.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="the web view is not installed (static/index.html missing)")
    return FileResponse(page, media_type="text/html; charset=utf-8")

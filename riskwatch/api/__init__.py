"""The alert-feed HTTP API: warnings, disposal actions, SSE change feed, CAP/Atom, metrics.

`create_app` builds the FastAPI application around one `WarningStore`; `riskwatch api` serves it.
"""

from __future__ import annotations

from riskwatch.api.app import create_app

__all__ = ["create_app"]

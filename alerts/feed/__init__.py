"""The alert feed: the HTTP API (warnings, disposal actions, SSE), the web view, CAP 1.2 and Atom.

`riskwatch.alerts.feed.app.create_app` builds the FastAPI application around one store;
`riskwatch api` serves it.
"""

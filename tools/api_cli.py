"""`riskwatch api`: serve the alert-feed API over the store named by RISKWATCH_DATABASE_URL."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from riskwatch.tools.cli_settings import settings as settings_for

__all__ = ["api", "register"]


def api(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    database_url: Annotated[Optional[str], typer.Option(help="Store URL (default RISKWATCH_DATABASE_URL)")] = None,  # noqa: UP045 - typer needs Optional
    broker: Annotated[Optional[str], typer.Option(help="Kafka bootstrap for feedback (default RISKWATCH_BROKER; none = store only)")] = None,  # noqa: UP045
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the alert feed over the store of RISKWATCH_DATABASE_URL (migrated first).

    \b
    Served:
      /               web view (asks for a token, keeps it in the browser)
      /docs           OpenAPI docs of the JSON API under /api
      /api/stream     live Server-Sent Events feed
      /cap/feed.atom  public Atom feed of CAP 1.2 warnings, no token
      /cap/{id}.xml   one warning as CAP 1.2
      /metrics        Prometheus metrics
      /healthz        liveness, with a database round trip

    \b
    Tokens: create one per person or wall screen (printed once):
      riskwatch token create --name NAME --role ROLE [--department CODE]
    ROLE is commander, operator, analyst or public; operators need a
    department code of routing.yaml. Send 'Authorization: Bearer <token>'
    or paste the token into the web view.
    """
    import uvicorn

    from riskwatch.alerts.feed.app import create_app, store_for

    settings = settings_for(database_url=database_url, broker=broker)
    store = store_for(settings)
    store.migrate()
    typer.echo(f"riskwatch api on http://{host}:{port}/ (store {store.url.render_as_string(hide_password=True)})")
    try:
        uvicorn.run(create_app(settings, store=store), host=host, port=port, log_level=log_level)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    """Add the `api` command to the riskwatch CLI."""
    app.command("api")(api)

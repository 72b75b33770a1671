"""`riskwatch api`: serve the alert-feed API over the store named by RISKWATCH_DATABASE_URL."""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the `api` command to the riskwatch CLI."""

    @app.command("api")
    def api(
        host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port")] = 8000,
        database_url: Annotated[Optional[str], typer.Option(help="Store URL (default RISKWATCH_DATABASE_URL)")] = None,  # noqa: UP045 - typer needs Optional
        broker: Annotated[Optional[str], typer.Option(help="Kafka bootstrap for feedback (default RISKWATCH_BROKER; none = store only)")] = None,  # noqa: UP045
        log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    ) -> None:
        """Serve the alert feed: REST, SSE, CAP/Atom, web view, /metrics, /healthz."""
        import uvicorn

        from riskwatch.api.app import create_app, store_for
        from riskwatch.settings import Settings

        overrides = {k: v for k, v in {"database_url": database_url, "broker": broker}.items() if v}
        settings = Settings(**overrides)
        store = store_for(settings)
        store.migrate()
        typer.echo(f"riskwatch api on http://{host}:{port}/ (store {store.url.render_as_string(hide_password=True)})")
        try:
            uvicorn.run(create_app(settings, store=store), host=host, port=port, log_level=log_level)
        finally:
            store.close()

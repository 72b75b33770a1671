"""`riskwatch db upgrade` and `riskwatch token create|list|revoke`: store administration.

`register(app)` adds both command groups to the main `riskwatch` typer app. Every command
works on the store named by `--database-url` or `RISKWATCH_DATABASE_URL`, with the routing
config of the city (`RISKWATCH_CONFIG_DIR`, default the shipped sample city). The store loads
when a command runs.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from riskwatch.tools.cli_settings import settings as settings_for

if TYPE_CHECKING:
    from riskwatch.alerts.store.store import WarningStore

__all__ = ["DatabaseUrl", "RoleChoice", "open_store", "register"]


class RoleChoice(str, Enum):
    """The choices of `--role`: the values of the store's `Role`, named here so `--help` needs no store."""

    commander = "commander"
    operator = "operator"
    analyst = "analyst"
    public = "public"

DatabaseUrl = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
    typer.Option("--database-url", help="Store URL (default RISKWATCH_DATABASE_URL)"),
]


def open_store(database_url: str | None) -> WarningStore:
    """The migrated store of `--database-url` (or the environment's), routed by the city's routing.yaml."""
    from riskwatch.alerts.store.store import WarningStore
    from riskwatch.config.loader import DEFAULT_CONFIG_DIR, ConfigError, load_model
    from riskwatch.config.models import RoutingConfig

    settings = settings_for(database_url=database_url)
    config_dir = settings.config_dir or DEFAULT_CONFIG_DIR
    try:
        routing = load_model(config_dir / "routing.yaml", RoutingConfig)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    store = WarningStore(settings.database_url, routing=routing)
    store.migrate()
    return store


def _db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the store's tables to the newest migration."""
    from riskwatch.alerts.store.schema import current_revision

    store = open_store(database_url)
    try:
        typer.echo(f"{store.url.render_as_string(hide_password=True)} is at revision {current_revision(store.engine)}")
    finally:
        store.close()


def _token_create(
    name: Annotated[str, typer.Option("--name", help="Who holds it, e.g. '金水区指挥中心值班长'")],
    role: Annotated[RoleChoice, typer.Option("--role", help="commander, operator, analyst or public")],
    department: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at runtime
        typer.Option("--department", help="Department code from routing.yaml (required for operators)"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API token and print it once; only its hash is kept."""
    from riskwatch.alerts.store.tokens import Role

    store = open_store(database_url)
    try:
        identity, token = store.tokens.create(name, Role(role.value), department)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        store.close()
    typer.echo(f"token_id: {identity.token_id}")
    typer.echo(f"role:     {identity.role.value}" + (f" ({identity.department})" if identity.department else ""))
    typer.echo(f"token:    {token}")
    typer.echo("Keep the token now: it cannot be shown again.", err=True)


def _token_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List active tokens (never the tokens themselves)."""
    store = open_store(database_url)
    try:
        identities = store.tokens.active()
    finally:
        store.close()
    for identity in identities:
        if as_json:
            typer.echo(json.dumps(identity.model_dump(mode="json"), ensure_ascii=False))
        else:
            typer.echo(f"{identity.token_id}  {identity.role.value:<9}  {identity.department or '-':<20}  {identity.name}")


def _token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token_id shown by `token create` or `token list`")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token at once."""
    from riskwatch.alerts.store.tokens import UnknownToken

    store = open_store(database_url)
    try:
        store.tokens.revoke(token_id)
    except UnknownToken as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    typer.echo(f"revoked {token_id}")


def register(app: typer.Typer) -> None:
    """Add the `db` and `token` command groups to `app`."""
    db_app = typer.Typer(help="The warning store's database.", no_args_is_help=True)
    db_app.command("upgrade")(_db_upgrade)
    token_app = typer.Typer(help="API tokens for the alert feed.", no_args_is_help=True)
    token_app.command("create")(_token_create)
    token_app.command("list")(_token_list)
    token_app.command("revoke")(_token_revoke)
    app.add_typer(db_app, name="db")
    app.add_typer(token_app, name="token")

"""`riskwatch config validate`: check analyst config files against their schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["config_validate", "register"]


def config_validate(
    files: Annotated[list[Path], typer.Argument(help="YAML files, or a config directory", exists=True)],
) -> None:
    """Validate config files against their schemas; errors name the file, the field and what was expected."""
    from riskwatch.config.loader import ConfigError, check_detectors_file, load_city_config, load_model, model_for_file
    from riskwatch.config.models import DetectorsConfig

    failed = False
    for path in files:
        try:
            if path.is_dir():
                load_city_config(path)
            else:
                model = load_model(path, model_for_file(path))
                if isinstance(model, DetectorsConfig):
                    check_detectors_file(path, model)
            typer.echo(f"ok   {path}")
        except ConfigError as exc:
            failed = True
            typer.echo(f"FAIL {exc}", err=True)
    raise typer.Exit(1 if failed else 0)


def register(app: typer.Typer) -> None:
    """Add the `config` command group to the riskwatch CLI."""
    config_app = typer.Typer(help="Check analyst config files.", no_args_is_help=True)
    config_app.command("validate")(config_validate)
    app.add_typer(config_app, name="config")

"""Settings for a command: the environment's, with the values given on the command line on top.

Imported by the command modules; `Settings` (pydantic-settings) loads only when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from riskwatch.config.settings import Settings

__all__ = ["settings"]


def settings(**overrides: object) -> Settings:
    """`Settings()` with every override that was given (None or empty means: keep the environment's)."""
    from riskwatch.config.settings import Settings

    return Settings(**{name: value for name, value in overrides.items() if value})

"""API tokens: who is calling and in which role.

A token is shown once when created; the store keeps only its SHA-256, so a leaked database
does not leak working tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Identity", "Role", "UnknownToken", "hash_token", "new_token"]

TOKEN_PREFIX = "rw_"


class Role(str, Enum):
    """What a token holder may do (the API's access policy says exactly what)."""

    commander = "commander"  # everything
    operator = "operator"  # own department's warnings; may transition them
    analyst = "analyst"  # read everything, personal data masked
    public = "public"  # the public CAP/Atom feed only


class Identity(BaseModel):
    """The holder of a token, as the API sees it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_id: str = Field(description="Public handle of the token, for listing and revoking")
    name: str = Field(min_length=1, max_length=128)
    role: Role
    department: str | None = Field(default=None, description="Department code; required for operators")


class UnknownToken(KeyError):
    """No active token has this id."""

    def __init__(self, token_id: str) -> None:
        self.token_id = token_id
        super().__init__(token_id)

    def __str__(self) -> str:
        return f"no active token with id {self.token_id!r}"


def hash_token(token: str) -> str:
    """The hex SHA-256 under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh `(token_id, plaintext token)`, both from the OS's secure random source."""
    return secrets.token_hex(8), TOKEN_PREFIX + secrets.token_urlsafe(32)

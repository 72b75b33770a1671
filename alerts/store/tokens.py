"""API tokens: who is calling and in which role.

A token is shown once when created; the store keeps only its SHA-256, so a leaked database
does not leak working tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from riskwatch.alerts.store.sessions import Sessions
from riskwatch.alerts.store.tables import TokenRow

__all__ = ["Identity", "Role", "TokenRepository", "UnknownToken", "hash_token", "new_token"]

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


def _identity(row: TokenRow) -> Identity:
    return Identity(token_id=row.token_id, name=row.name, role=Role(row.role), department=row.department)


class TokenRepository:
    """Creates, resolves and revokes API tokens; `departments` are the codes an operator may name."""

    def __init__(self, sessions: Sessions, departments: Collection[str]) -> None:
        self._sessions = sessions
        self._departments = frozenset(departments)

    def create(self, name: str, role: Role, department: str | None = None) -> tuple[Identity, str]:
        """Create an API token; returns its identity and the plaintext token (shown only now).

        Operators must name a department of `routing.yaml`; only the token's SHA-256 is stored.
        """
        role = Role(role)
        if role is Role.operator and not department:
            raise ValueError("an operator token needs --department: operators act on their own department's warnings")
        if department is not None and department not in self._departments:
            raise ValueError(f"unknown department {department!r}: expected one of {', '.join(sorted(self._departments))}")
        token_id, token = new_token()
        identity = Identity(token_id=token_id, name=name, role=role, department=department)
        with self._sessions.write() as session:
            session.add(
                TokenRow(
                    token_id=token_id,
                    name=identity.name,
                    role=role.value,
                    department=department,
                    token_sha256=hash_token(token),
                    created_at=self._sessions.now(),
                )
            )
        return identity, token

    def identify(self, token: str) -> Identity | None:
        """Who holds this token, or None if it is unknown or revoked."""
        stmt = select(TokenRow).where(TokenRow.token_sha256 == hash_token(token), TokenRow.revoked_at.is_(None))
        with self._sessions.read() as session:
            row = session.scalars(stmt).first()
            return _identity(row) if row is not None else None

    def revoke(self, token_id: str) -> None:
        """Revoke a token at once; `UnknownToken` if no active token has this id."""
        with self._sessions.write() as session:
            row = session.get(TokenRow, token_id, with_for_update=True)
            if row is None or row.revoked_at is not None:
                raise UnknownToken(token_id)
            row.revoked_at = self._sessions.now()

    def active(self) -> list[Identity]:
        """Every active (not revoked) token, oldest first."""
        stmt = select(TokenRow).where(TokenRow.revoked_at.is_(None)).order_by(TokenRow.created_at, TokenRow.token_id)
        with self._sessions.read() as session:
            return [_identity(row) for row in session.scalars(stmt)]

"""Who calls, and how a key is hashed: plain values every layer may use (no HTTP, no SQL).

Keys are ``zcp_`` + 43 url-safe characters from ``secrets.token_urlsafe(32)`` (256 random bits);
only their SHA-256 is stored (see :mod:`app.auth` for why one SHA-256 suffices)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "zcp_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id and role; ``enterprise_id`` set only for enterprise keys."""

    key_id: int
    role: str
    enterprise_id: int | None = None
    enterprise_code: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


def hash_key(key: str) -> str:
    """Hex SHA-256 of a key (see the module docstring for why this suffices)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)

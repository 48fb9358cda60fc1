"""Bearer API keys: creation, hashed storage, the ``Principal`` of a request and role checks.

Keys are ``zcp_`` + 43 url-safe characters from ``secrets.token_urlsafe(32)`` (256 random bits).
Only their SHA-256 is stored. A slow, salted hash (bcrypt, argon2) protects *low-entropy* secrets
such as passwords against offline guessing; a 256-bit random key cannot be guessed, so one SHA-256
is as safe here, and it allows an indexed lookup per request in constant time.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db import session_scope
from app.models import ApiKey
from app.problems import Problem

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


class KeyCache:
    """Recently verified keys of this process (hash -> principal and expiry), kept for
    ``seconds`` so a busy client does not cost a database lookup per request.

    Bound: a key revoked, or given an earlier expiry, by *another* process (another worker, the
    command line) still works here for at most ``seconds``; revoked or re-dated in this process
    (:func:`forget_cached_keys`, called by every key write) it stops at once; an expiry that
    passes is checked on every request. ``seconds`` = 0 turns the cache off. Failed lookups are
    never kept (the failure limiter handles floods)."""

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[Principal, datetime | None, float, int]] = {}
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        if self.seconds <= 0:
            return None
        hit = self._entries.get(key_hash)
        if hit is None:
            return None
        principal, expires_at, until, generation = hit
        if (generation != _generation or time.monotonic() >= until
                or (expires_at is not None and expires_at <= datetime.now(UTC))):
            with self._lock:
                self._entries.pop(key_hash, None)
            return None
        return principal

    def put(self, key_hash: str, principal: Principal, expires_at: datetime | None,
            generation: int) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key_hash] = (principal, expires_at, time.monotonic() + self.seconds,
                                       generation)


_generation = 0
"""Bumped by :func:`forget_cached_keys`; cached entries of an older generation are misses."""


def forget_cached_keys() -> None:
    """Drop every cached key of this process (a key was revoked or re-dated). Called when the
    change is written and again after it commits, so a lookup racing the commit is not kept."""
    global _generation
    _generation += 1


def hash_key(key: str) -> str:
    """Hex SHA-256 of a key (see the module docstring for why this suffices)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_api_key(
    session: Session, role: str, enterprise_id: int | None = None, label: str | None = None
) -> str:
    """Store a new key's hash and return the key itself (shown once, never stored)."""
    if role not in ("operator", "enterprise", "planner"):
        raise ValueError(f"unknown role {role!r}")
    if (role == "enterprise") != (enterprise_id is not None):
        raise ValueError("an enterprise key needs exactly one enterprise; other roles none")
    key = new_key()
    session.add(
        ApiKey(key_hash=hash_key(key), prefix=key[:8], role=role, enterprise_id=enterprise_id,
               label=label)
    )
    session.flush()
    return key


def get_session(request: Request) -> Iterator[Session]:
    """The request's session: committed when the route function returns, *before* the answer is
    sent (``scope="function"``), so a 2xx always means committed and a failed commit becomes an
    error answer instead of a lost write."""
    yield from session_scope(request.app.state.session_factory)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(request: Request) -> Principal:
    """The caller's key, looked up in a short session of its own: the lookup returns its pooled
    connection at once, so a long request (an upload) holds one connection, not two."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Send an API key as 'Authorization: Bearer <key>'.")
    # Failed attempts are limited per client address, checked before any database lookup.
    limiter = getattr(request.app.state, "auth_limiter", None)
    address = request.client.host if request.client else "unknown"
    if limiter is not None and (wait := limiter.retry_after(address)) is not None:
        from app.services.keys import too_many_failures

        raise too_many_failures(wait)
    key_hash = hash_key(token.strip())
    cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
    principal = cache.get(key_hash) if cache is not None else None
    if principal is not None:
        if (recorder := getattr(request.app.state, "key_use", None)) is not None:
            recorder.seen(principal.key_id)
        return principal
    generation = _generation  # read before the lookup: a revocation meanwhile voids the entry
    with request.app.state.session_factory() as session:
        row = session.scalar(
            select(ApiKey).where(ApiKey.key_hash == key_hash,
                                 ApiKey.revoked_at.is_(None),
                                 or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > func.now()))
        )
        if row is None:
            if limiter is not None:
                limiter.failed(address)
            raise Problem(401, "Unknown, revoked or expired API key.")
        principal = Principal(
            key_id=row.id,
            role=row.role,
            enterprise_id=row.enterprise_id,
            enterprise_code=row.enterprise.code if row.enterprise else None,
        )
        if cache is not None:
            cache.put(key_hash, principal, row.expires_at, generation)
    if (recorder := getattr(request.app.state, "key_use", None)) is not None:
        recorder.seen(principal.key_id)  # at most one write a minute per key
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 otherwise)."""

    def _check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise Problem(403, f"This needs one of the roles: {', '.join(roles)}.")
        return principal

    return _check


OperatorDep = Annotated[Principal, Depends(require_roles("operator"))]
WriterDep = Annotated[Principal, Depends(require_roles("operator", "enterprise"))]

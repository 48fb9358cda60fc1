"""Bearer API keys: creation, hashed storage, the ``Principal`` of a request and role checks.

Keys are ``zcp_`` + 43 url-safe characters from ``secrets.token_urlsafe(32)`` (256 random bits).
Only their SHA-256 is stored. A slow, salted hash (bcrypt, argon2) protects *low-entropy* secrets
such as passwords against offline guessing; a 256-bit random key cannot be guessed, so one SHA-256
is as safe here, and it allows an indexed lookup per request in constant time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db import session_scope
from app.key_cache import KeyCache, current_generation, forget_cached_keys
from app.models import ApiKey
from app.principal import KEY_PREFIX, Principal, hash_key, new_key
from app.problems import Problem

__all__ = ["KEY_PREFIX", "KeyCache", "Principal", "forget_cached_keys", "hash_key", "new_key"]

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
    # read before the lookup: a revocation meanwhile voids the entry
    generation = current_generation()
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

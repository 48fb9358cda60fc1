"""API key rows: listing, lookup by id, revocation and the throttled last-use stamp."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.orm import Session

from app.key_cache import forget_cached_keys
from app.models import ApiKey
from app.principal import hash_key


def list_keys(session: Session, include_revoked: bool = True) -> Sequence[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return session.scalars(stmt).unique().all()


def get_key(session: Session, key_id: int, *, for_update: bool = False) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.id == key_id)
    if for_update:
        stmt = stmt.with_for_update(of=ApiKey)
    return session.scalars(stmt).unique().first()


def key_by_secret(session: Session, key: str) -> ApiKey:
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).unique().one()
    return row


def find_key_by_secret(session: Session, key: str) -> ApiKey | None:
    """The stored key whose hash matches ``key``, if any."""
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).unique() \
        .first()


def _forget_cached(session: Session) -> None:
    """This process stops trusting cached keys now and once more when the change commits."""
    forget_cached_keys()
    event.listen(session, "after_commit", lambda _s: forget_cached_keys(), once=True)


def set_expiry(session: Session, row: ApiKey, expires_at: datetime | None) -> None:
    row.expires_at = expires_at
    session.flush()
    _forget_cached(session)


def revoke(session: Session, row: ApiKey) -> None:
    """Revoke ``row`` now (a revoked key keeps its first revocation time)."""
    if row.revoked_at is None:
        row.revoked_at = session.scalar(select(func.now()))
        session.flush()
        _forget_cached(session)


def stamp_last_used(engine: Engine, key_id: int) -> None:
    """Record that ``key_id`` authenticated now (its own short transaction)."""
    with engine.begin() as conn:
        conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=func.now()))

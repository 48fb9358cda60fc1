"""Recently verified API keys of this process: plain values any layer may use (no HTTP, no SQL).

Repositories that revoke or re-date a key call :func:`forget_cached_keys`; the request
dependency in :mod:`app.auth` reads and fills the cache."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from app.principal import Principal


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



def current_generation() -> int:
    """The cache generation now: read it before a lookup, store the entry with it."""
    return _generation

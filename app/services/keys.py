"""API key lifecycle: create with an optional expiry, list, revoke, rotate; the per-address limit
on failed authentications; the throttled record of each key's last use; the demo key's file.

The limiter and the last-use recorder live in the API process (``app.state``): a flood of bad
keys from one address is refused before any database lookup, and a key's last use costs at most
one ``UPDATE`` a minute per process, never one per request.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.auth import create_api_key
from app.models import ApiKey
from app.problems import Problem
from app.repositories import core as core_repo
from app.repositories import keys as repo
from app.repositories.keys import list_keys as list_keys

log = logging.getLogger(__name__)

DEMO_KEY_FILE = "demo-operator-key"
_DURATION = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``"90d"`` → 90 days; units m (minutes), h, d, w. ValueError otherwise."""
    match = _DURATION.match(text or "")
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration such as 30m, 12h, 90d or 4w")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


def key_status(row: ApiKey, now: datetime | None = None) -> str:
    """'active', 'expired' or 'revoked'."""
    now = now or datetime.now(UTC)
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def create_key(session: Session, role: str, enterprise_id: int | None = None,
               label: str | None = None, expires_in: timedelta | None = None
               ) -> tuple[ApiKey, str]:
    """A new key (ValueError on a bad role/enterprise pair): its row and the secret, shown once."""
    key = create_api_key(session, role, enterprise_id, label=label)
    row = repo.key_by_secret(session, key)
    if expires_in is not None:
        repo.set_expiry(session, row, datetime.now(UTC) + expires_in)
    return row, key


def revoke_key(session: Session, key_id: int) -> ApiKey:
    row = repo.get_key(session, key_id, for_update=True)
    if row is None:
        raise Problem(404, f"No API key {key_id}.")
    repo.revoke(session, row)
    return row


def rotate_key(session: Session, key_id: int, expires_in: timedelta | None = None,
               grace: timedelta | None = None) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same role, enterprise and label. The old key is
    revoked now, or (``grace``) expires after that grace period so clients can switch. The new
    key expires after ``expires_in``, else keeps the old key's lifetime length (if it had one)."""
    old = repo.get_key(session, key_id, for_update=True)
    if old is None:
        raise Problem(404, f"No API key {key_id}.")
    now = datetime.now(UTC)
    if key_status(old, now) != "active":
        raise Problem(409, f"API key {key_id} is {key_status(old, now)}; create a new one instead.")
    if expires_in is None and old.expires_at is not None:
        expires_in = old.expires_at - old.created_at
    row, key = create_key(session, old.role, old.enterprise_id, old.label, expires_in)
    if grace:
        until = now + grace
        repo.set_expiry(session, old, min(until, old.expires_at) if old.expires_at else until)
    else:
        repo.revoke(session, old)
    return row, key


def enterprise_id_for(session: Session, code: str | None) -> int | None:
    """The id of enterprise ``code`` (None for None); ValueError when there is none."""
    if code is None:
        return None
    ent = core_repo.enterprise_by_code(session, code)
    if ent is None:
        raise ValueError(f"no enterprise {code!r}")
    return ent.id


# --- failed authentications: a token bucket per client address --------------------------------

@dataclass
class _Bucket:
    tokens: float
    at: float


class AuthFailureLimiter:
    """Each failed authentication from an address takes a token from that address's bucket
    (``burst`` tokens, refilled at ``per_minute``). With no token left, the address is answered
    429 before its key is looked up, until a token is back. ``burst`` ≤ 0 turns the limit off.
    Held in memory per process; addresses with a full bucket are forgotten."""

    def __init__(self, burst: int, per_minute: float, max_addresses: int = 100_000) -> None:
        self.capacity = float(burst)
        self.rate_per_s = max(per_minute, 1e-9) / 60.0
        self.max_addresses = max_addresses
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate_per_s)

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        if self.capacity <= 0:
            return None
        with self._lock:
            bucket = self._buckets.get(address)
            if bucket is None:
                return None
            tokens = self._refilled(bucket, time.monotonic())
        if tokens >= 1.0:
            return None
        return max(1, math.ceil((1.0 - tokens) / self.rate_per_s))

    def failed(self, address: str) -> None:
        if self.capacity <= 0:
            return
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(address)
            if bucket is None:
                if len(self._buckets) >= self.max_addresses:
                    self._forget_full(now)
                bucket = self._buckets[address] = _Bucket(self.capacity, now)
            bucket.tokens = max(0.0, self._refilled(bucket, now) - 1.0)
            bucket.at = now

    def _forget_full(self, now: float) -> None:
        full = [a for a, b in self._buckets.items() if self._refilled(b, now) >= self.capacity]
        for a in full:
            del self._buckets[a]
        if len(self._buckets) >= self.max_addresses:  # all busy: drop the oldest half
            for a, _ in sorted(self._buckets.items(), key=lambda kv: kv[1].at)[
                    : len(self._buckets) // 2]:
                del self._buckets[a]


def too_many_failures(retry_after_s: int) -> Problem:
    return Problem(429, "Too many failed authentications from this address; try again later. "
                        "认证失败次数过多，请稍后再试。", title="Too many requests",
                   retry_after_s=retry_after_s)


# --- last use: at most one write a minute per key and process ---------------------------------

class KeyUseRecorder:
    """Stamps ``api_keys.last_used_at`` on a key's first use and then at most every
    ``interval_s`` seconds in this process. A failed stamp is logged, never fails the request."""

    def __init__(self, engine: Engine, interval_s: float = 60.0) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()

    def seen(self, key_id: int) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key_id)
            if last is not None and now - last < self.interval_s:
                return
            self._last[key_id] = now
        try:
            repo.stamp_last_used(self.engine, key_id)
        except SQLAlchemyError as exc:
            log.warning("could not record the last use of API key %s: %s", key_id, exc)


# --- the demo key ----------------------------------------------------------------------------

def active_key_in_file(session: Session, folder: Path, role: str = "operator",
                       name: str = DEMO_KEY_FILE) -> tuple[str, int] | None:
    """The key held in ``folder/name`` and its id, when it is still an active key of ``role``
    (not revoked, not expired); None otherwise (no file, unreadable, or no such key)."""
    try:
        key = (folder / name).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    row = repo.find_key_by_secret(session, key) if key else None
    if row is None or row.role != role or key_status(row) != "active":
        return None
    return key, row.id


def write_key_file(folder: Path, key: str, name: str = DEMO_KEY_FILE) -> Path:
    """Write ``key`` to ``folder/name``, readable by its owner only (mode 0600), and return the
    path. The key never goes to the console or a log."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        os.write(fd, (key + "\n").encode("ascii"))
    finally:
        os.close(fd)
    return path.resolve()

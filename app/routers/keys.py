"""API keys for operators: list, create (optionally expiring), revoke and rotate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, Field

from app.auth import OperatorDep, SessionDep
from app.models import ApiKey
from app.problems import invalid
from app.schemas.core import Role
from app.services import keys as svc

router = APIRouter(prefix="/v1", tags=["api keys"])
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Duration = Field(None, description="lifetime such as 30m, 12h, 90d or 4w", examples=["90d"],
                 max_length=16)


class KeyOut(BaseModel):
    id: int
    prefix: str
    role: str
    enterprise: str | None
    label: str | None
    status: str
    """active | expired | revoked"""
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="the key itself, shown only in this answer")


class KeyIn(BaseModel):
    role: Role
    enterprise: str | None = Field(None, description="enterprise code (enterprise keys only)")
    label: str | None = Field(None, max_length=200)
    expires_in: str | None = Duration


class RotateIn(BaseModel):
    expires_in: str | None = Duration
    grace: str | None = Field(None, max_length=16, description="keep the old key valid this "
                              "long (e.g. 1h) instead of revoking it at once")


def key_out(row: ApiKey) -> KeyOut:
    return KeyOut(id=row.id, prefix=row.prefix, role=row.role,
                  enterprise=row.enterprise.code if row.enterprise else None, label=row.label,
                  status=svc.key_status(row), created_at=row.created_at,
                  expires_at=row.expires_at, last_used_at=row.last_used_at,
                  revoked_at=row.revoked_at)


def _duration(field: str, text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return svc.parse_duration(text)
    except ValueError as exc:
        raise invalid(field, str(exc), str(exc)) from None


@router.get("/keys", response_model=list[KeyOut])
def list_keys(session: SessionDep, _: OperatorDep) -> list[KeyOut]:
    """Every key (never the key itself): role, enterprise, status, expiry and last use."""
    return [key_out(r) for r in svc.list_keys(session)]


@router.post("/keys", status_code=201, response_model=NewKeyOut)
def create_key(body: KeyIn, session: SessionDep, _: OperatorDep) -> NewKeyOut:
    """Create a key; the answer is the only place it is shown (only its hash is stored)."""
    expires_in = _duration("expires_in", body.expires_in)
    try:
        ent_id = svc.enterprise_id_for(session, body.enterprise)
        row, key = svc.create_key(session, body.role, ent_id, body.label, expires_in)
    except ValueError as exc:
        raise invalid("enterprise", str(exc), str(exc)) from None
    session.refresh(row)
    return NewKeyOut(key=key, **key_out(row).model_dump())


@router.post("/keys/{key_id}/revoke", response_model=KeyOut)
def revoke_key(key_id: KeyId, session: SessionDep, _: OperatorDep) -> KeyOut:
    """Revoke a key at once (repeating it changes nothing)."""
    return key_out(svc.revoke_key(session, key_id))


@router.post("/keys/{key_id}/rotate", status_code=201, response_model=NewKeyOut)
def rotate_key(key_id: KeyId, session: SessionDep, _: OperatorDep,
               body: Annotated[RotateIn | None, Body()] = None) -> NewKeyOut:
    """Replace a key by a new one (same role, enterprise, label); the old one is revoked, or
    expires after ``grace``."""
    body = body or RotateIn()
    row, key = svc.rotate_key(session, key_id, _duration("expires_in", body.expires_in),
                              _duration("grace", body.grace))
    session.refresh(row)
    return NewKeyOut(key=key, **key_out(row).model_dump())

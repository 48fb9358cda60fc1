"""Enterprises and meters; every query is scoped by the caller's :class:`Principal`.

An enterprise key sees only its own enterprise and meters; anything else reads as absent (404),
so a key never learns whether another enterprise's code exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth import Principal
from app.models import Enterprise, Meter
from app.problems import Problem, check_violation


def _scope_enterprises(stmt: Select, principal: Principal) -> Select:
    if principal.role == "enterprise":
        stmt = stmt.where(Enterprise.id == principal.enterprise_id)
    return stmt


def list_enterprises(session: Session, principal: Principal) -> Sequence[Enterprise]:
    stmt = _scope_enterprises(select(Enterprise).order_by(Enterprise.code), principal)
    return session.scalars(stmt).all()


def get_enterprise(session: Session, principal: Principal, code: str) -> Enterprise:
    stmt = _scope_enterprises(select(Enterprise).where(Enterprise.code == code), principal)
    ent = session.scalar(stmt)
    if ent is None:
        raise Problem(404, f"No enterprise {code!r}.")
    return ent


def create_enterprise(
    session: Session, code: str, name: str, zone: str, industry: str | None
) -> Enterprise:
    ent = Enterprise(code=code, name=name, zone=zone, industry=industry)
    session.add(ent)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if check_violation(exc) is not None:  # a refused value, not a duplicate
            raise
        raise Problem(409, f"Enterprise {code!r} exists already.") from None
    return ent


def _scope_meters(stmt: Select, principal: Principal) -> Select:
    if principal.role == "enterprise":
        stmt = stmt.where(Meter.enterprise_id == principal.enterprise_id)
    return stmt


def list_meters(
    session: Session, principal: Principal, enterprise: str | None = None
) -> Sequence[Meter]:
    stmt = select(Meter).join(Meter.enterprise).order_by(Meter.code)
    if enterprise:
        stmt = stmt.where(Enterprise.code == enterprise)
    return session.scalars(_scope_meters(stmt, principal)).all()


def get_meter(session: Session, principal: Principal, code: str) -> Meter:
    meter = session.scalar(_scope_meters(select(Meter).where(Meter.code == code), principal))
    if meter is None:
        raise Problem(404, f"No meter {code!r}.")
    return meter


def meters_by_code(session: Session, principal: Principal, codes: Sequence[str]) -> list[Meter]:
    """The meters among ``codes`` the caller may see (writers: may write)."""
    stmt = _scope_meters(select(Meter).where(Meter.code.in_(list(codes))), principal)
    return list(session.scalars(stmt).all())


def create_meter(session: Session, meter: Meter) -> Meter:
    session.add(meter)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if check_violation(exc) is not None:  # a refused value, not a duplicate
            raise
        raise Problem(409, f"Meter {meter.code!r} exists already.") from None
    session.refresh(meter)
    return meter

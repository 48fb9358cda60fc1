"""Enterprises and meters; every query is scoped by the caller's :class:`Principal`.

An enterprise key sees only its own enterprise and meters; anything else reads as absent (404),
so a key never learns whether another enterprise's code exists. Meter codes are unique within
an enterprise only: two enterprises may both have a meter "M1". An enterprise key always means
its own; an operator or planner names the enterprise (``?enterprise=``) when a code is shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import check_violation_name
from app.errors import BatchRejected, Conflict, NotFound
from app.models import Enterprise, Meter
from app.principal import Principal


def _scope_enterprises(stmt: Select, principal: Principal) -> Select:
    if principal.role == "enterprise":
        stmt = stmt.where(Enterprise.id == principal.enterprise_id)
    return stmt


def list_enterprises(session: Session, principal: Principal) -> Sequence[Enterprise]:
    stmt = _scope_enterprises(select(Enterprise).order_by(Enterprise.code), principal)
    return session.scalars(stmt).all()


def visible_enterprise_ids(session: Session, principal: Principal) -> dict[str, int]:
    """``{code: id}`` of the enterprises the caller may see (its own for an enterprise key)."""
    stmt = _scope_enterprises(select(Enterprise.code, Enterprise.id), principal)
    return {code: int(i) for code, i in session.execute(stmt).all()}


def enterprise_by_code(session: Session, code: str) -> Enterprise | None:
    """Enterprise ``code`` whoever asks (the CLI's key commands), or None."""
    return session.scalar(select(Enterprise).where(Enterprise.code == code))


def get_enterprise(session: Session, principal: Principal, code: str) -> Enterprise:
    stmt = _scope_enterprises(select(Enterprise).where(Enterprise.code == code), principal)
    ent = session.scalar(stmt)
    if ent is None:
        raise NotFound(f"No enterprise {code!r}.")
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
        if check_violation_name(exc) is not None:  # a refused value, not a duplicate
            raise
        raise Conflict(f"Enterprise {code!r} exists already.") from None
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


def one_by_code(rows: Sequence[Any], code: str, what: str, enterprise: str | None) -> Any:
    """The single row of ``rows`` (all with ``code``, each with ``.enterprise``): 404 for none,
    409 naming the enterprises when several enterprises use the code and none was named (only
    operators and planners, who see several enterprises, can meet this)."""
    if enterprise is not None:
        rows = [r for r in rows if r.enterprise.code == enterprise]
    if not rows:
        raise NotFound(f"No {what} {code!r}.")
    if len(rows) > 1:
        owners = sorted(r.enterprise.code for r in rows)
        raise Conflict(f"Several enterprises have a {what} {code!r} ({', '.join(owners)}); "
                       "name one with ?enterprise=.", kind="ambiguous-code",
                       enterprises=owners)
    return rows[0]


def get_meter(session: Session, principal: Principal, code: str,
              enterprise: str | None = None) -> Meter:
    stmt = _scope_meters(select(Meter).where(Meter.code == code), principal)
    return one_by_code(session.scalars(stmt).unique().all(), code, "meter", enterprise)


def meters_by_code(session: Session, principal: Principal, codes: Sequence[str]) -> list[Meter]:
    """The meters among ``codes`` the caller may see (writers: may write). A code that names
    meters of several enterprises (operators only) is a 422: upload those with the owner's key."""
    stmt = _scope_meters(select(Meter).where(Meter.code.in_(list(codes))), principal)
    meters = list(session.scalars(stmt).unique().all())
    seen: dict[str, int] = {}
    for m in meters:
        seen[m.code] = seen.get(m.code, 0) + 1
    shared = sorted(c for c, n in seen.items() if n > 1)
    if shared:
        raise BatchRejected("Meter codes used by several enterprises cannot be uploaded with an "
                            "operator key; send them with the owning enterprise's key.",
                            [("meter", f"{c!r} names meters of several enterprises")
                             for c in shared])
    return meters


def meters_with_code(session: Session, code: str,
                     enterprise_id: int | None = None) -> list[Meter]:
    """Every meter named ``code`` (codes are unique per enterprise), or the one of
    ``enterprise_id``; not scoped to a caller."""
    stmt = select(Meter).where(Meter.code == code)
    if enterprise_id is not None:
        stmt = stmt.where(Meter.enterprise_id == enterprise_id)
    return list(session.scalars(stmt).all())


def create_meter(session: Session, meter: Meter) -> Meter:
    session.add(meter)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if check_violation_name(exc) is not None:  # a refused value, not a duplicate
            raise
        raise Conflict(f"This enterprise has a meter {meter.code!r} already.") from None
    session.refresh(meter)
    return meter

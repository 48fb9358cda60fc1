"""Tariffs and accounting policies by name: list and read (any key), upload as content
(operators). Dispatch, storage stations and scenarios name them; no field names a server file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from app.auth import OperatorDep, PrincipalDep, SessionDep
from app.problems import Problem
from app.services import registry as svc

router = APIRouter(prefix="/v1", tags=["tariffs and accounting policies"])
NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"
Name = Annotated[str, Path(min_length=1, max_length=64, pattern=NAME_PATTERN)]


class EntryOut(BaseModel):
    name: str
    version: str
    origin: str
    """shipped (a data file of the service) | uploaded (by an operator)"""


class EntryDetail(EntryOut):
    content: dict[str, Any]


class EntryIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    content: str | dict[str, Any] = Field(
        description="the document as YAML or JSON text, or as an object: the fields of the "
                    "shipped files (energy/data/tariffs/*.yaml, carbon/data/policy_default.yaml)")


def _detail(session: SessionDep, kind: str, name: str) -> EntryDetail:
    conn = session.connection()
    try:
        content = svc.document(conn, kind, name, "name")
    except Problem:
        raise Problem(404, f"No {svc.WHAT[kind]} of that name.") from None
    if kind == svc.TARIFF:
        content = svc.tariff_document(svc.parse_tariff(content))
    else:
        content = svc.parse_policy(content).to_dict()
    origin = "shipped" if name in svc._shipped(kind) else "uploaded"
    return EntryDetail(name=name, version=str(content.get("version", "")), origin=origin,
                       content=content)


def _upload(session: SessionDep, kind: str, body: EntryIn, key_id: int,
            response: Response) -> EntryDetail:
    entry, created = svc.upload(session, kind, body.name, body.content, key_id)
    response.status_code = 201 if created else 200
    return EntryDetail(**entry)


@router.get("/tariffs", response_model=list[EntryOut])
def list_tariffs(session: SessionDep, _: PrincipalDep) -> list[EntryOut]:
    """Tariffs a storage station, a dispatch or a scenario may name."""
    return [EntryOut(**e) for e in svc.listing(session, svc.TARIFF)]


@router.get("/tariffs/{tariff}", response_model=EntryDetail)
def get_tariff(tariff: Name, session: SessionDep, _: PrincipalDep) -> EntryDetail:
    """A tariff's content (normalised: every field explicit)."""
    return _detail(session, svc.TARIFF, tariff)


@router.post("/tariffs", status_code=201, response_model=EntryDetail)
def upload_tariff(body: EntryIn, session: SessionDep, principal: OperatorDep,
                  response: Response) -> EntryDetail:
    """Add a tariff by content (validated like the shipped files; periods must cover the day).
    201 when stored; 200 when the same content is there already; 409 for a taken name."""
    return _upload(session, svc.TARIFF, body, principal.key_id, response)


@router.get("/accounting-policies", response_model=list[EntryOut])
def list_policies(session: SessionDep, _: PrincipalDep) -> list[EntryOut]:
    """Accounting policies a scenario may name (``accounting_policy: {policy: <name>}``)."""
    return [EntryOut(**e) for e in svc.listing(session, svc.POLICY)]


@router.get("/accounting-policies/{policy}", response_model=EntryDetail)
def get_policy(policy: Name, session: SessionDep, _: PrincipalDep) -> EntryDetail:
    """A policy's settings (values only; the shipped file's reasons are in the repository)."""
    return _detail(session, svc.POLICY, policy)


@router.post("/accounting-policies", status_code=201, response_model=EntryDetail)
def upload_policy(body: EntryIn, session: SessionDep, principal: OperatorDep,
                  response: Response) -> EntryDetail:
    """Add an accounting policy by content: every setting of carbon/data/policy_default.yaml,
    each as ``{value: ...}`` or the bare value. 201 stored; 200 same content; 409 taken name."""
    return _upload(session, svc.POLICY, body, principal.key_id, response)

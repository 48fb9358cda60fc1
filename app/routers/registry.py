"""Tariffs and accounting policies by name: list and read (any key), upload as content
(operators). Dispatch, storage stations and scenarios name them; no field names a server file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from app.auth import OperatorDep, PrincipalDep, SessionDep
from app.problems import Problem
from app.services import registry as svc

router = APIRouter(prefix="/v1", tags=["tariffs and accounting policies"])
NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"


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


def _routes(kind: str, path: str, param: str, doc_list: str, doc_get: str,
            doc_upload: str, names: tuple[str, str, str]) -> None:
    """List, read and upload routes of one kind of named document (tariffs, policies)."""

    def listing(session: SessionDep, _: PrincipalDep) -> list[EntryOut]:
        return [EntryOut(**e) for e in svc.listing(session, kind)]

    def detail(session: SessionDep, _: PrincipalDep, name: str = Path(
            alias=param, min_length=1, max_length=64, pattern=NAME_PATTERN)) -> EntryDetail:
        # the path parameter keeps its own name ({tariff}, {policy}) in the URL and OpenAPI
        return _detail(session, kind, name)

    def upload(body: EntryIn, session: SessionDep, principal: OperatorDep,
               response: Response) -> EntryDetail:
        return _upload(session, kind, body, principal.key_id, response)

    for endpoint, doc in ((listing, doc_list), (detail, doc_get), (upload, doc_upload)):
        endpoint.__doc__ = doc
    list_name, get_name, upload_name = names
    router.add_api_route(f"/{path}", listing, methods=["GET"], name=list_name,
                         response_model=list[EntryOut])
    router.add_api_route(f"/{path}/{{{param}}}", detail, methods=["GET"], name=get_name,
                         response_model=EntryDetail)
    router.add_api_route(f"/{path}", upload, methods=["POST"], name=upload_name,
                         status_code=201, response_model=EntryDetail)


_routes(svc.TARIFF, "tariffs", "tariff",
        "Tariffs a storage station, a dispatch or a scenario may name.",
        "A tariff's content (normalised: every field explicit).",
        "Add a tariff by content (validated like the shipped files; periods must cover the day).\n"
        "201 when stored; 200 when the same content is there already; 409 for a taken name.",
        ("list_tariffs", "get_tariff", "upload_tariff"))
_routes(svc.POLICY, "accounting-policies", "policy",
        "Accounting policies a scenario may name (``accounting_policy: {policy: <name>}``).",
        "A policy's settings (values only; the shipped file's reasons are in the repository).",
        "Add an accounting policy by content: every setting of carbon/data/policy_default.yaml,\n"
        "each as ``{value: ...}`` or the bare value. 201 stored; 200 same content; 409 taken name.",
        ("list_policies", "get_policy", "upload_policy"))

"""The virtual power plant: flexible resources, available flexibility, demand-response events and
the OpenADR VEN's status. Enterprise keys see their own resources and flexibility; events are the
park's (any key reads them, operators send them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from app.auth import OperatorDep, PrincipalDep, SessionDep, WriterDep
from app.params import Instant
from app.repositories import vpp as repo
from app.schemas.vpp import (
    DrEventIn,
    DrEventOut,
    FlexAvailableOut,
    FlexResourceIn,
    FlexResourceOut,
    OpenAdrStatusOut,
)
from app.services import dr_events
from app.services import vpp as svc

flex = APIRouter(prefix="/v1/flex", tags=["virtual power plant"])
dr = APIRouter(prefix="/v1/dr", tags=["virtual power plant"])

StartQ = Annotated[Instant, Query(description="ISO 8601 with offset, on the 15-minute grid")]
EndQ = Annotated[Instant, Query(description="exclusive; at most 7 days after start")]
EventIdPath = Annotated[str, Path(min_length=1, max_length=128, description="the event's id")]


def _now() -> datetime:
    return datetime.now(UTC)


@flex.post("/resources", status_code=201, response_model=FlexResourceOut, responses={
    200: {"model": FlexResourceOut, "description": "registered already (unchanged or updated)"}})
def register_resource(body: FlexResourceIn, response: Response, session: SessionDep,
                      principal: WriterDep) -> dict[str, Any]:
    """Register a flexible resource behind one of the enterprise's meters (an enterprise for
    itself, the operator for any). 201 when created; 200 when it was registered already (the
    same body changes nothing, another body updates it)."""
    row, outcome = svc.register_resource(session, principal, body)
    if outcome != "created":
        response.status_code = 200
    enterprises = repo.enterprise_codes(session, {row.enterprise_id})
    return svc.registered_json(row, enterprises, repo.meter_codes(session, {row.meter_id}))


@flex.get("/resources", response_model=list[FlexResourceOut])
def list_resources(session: SessionDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Registered resources, storage stations (``storage:<code>``) and PV arrays
    (``pv:<code>``) the caller may see."""
    return svc.list_resources(session, principal)


@flex.get("/available", response_model=FlexAvailableOut)
def available(start: StartQ, end: EndQ, session: SessionDep,
              principal: PrincipalDep) -> dict[str, Any]:
    """Flexibility per kind and 15-minute step: how much the park's draw can be lowered
    (``reduce_kw``) and raised (``increase_kw``) by the resources the caller may see."""
    return svc.available(session, principal, start, end, _now())


@dr.post("/events", status_code=201, response_model=DrEventOut, responses={
    200: {"model": DrEventOut, "description": "stored already (changed false) or a new version"}})
def post_event(body: DrEventIn, request: Request, response: Response, session: SessionDep,
               principal: OperatorDep) -> dict[str, Any]:
    """Receive a demand-response event (operators). 201 when new; 200 when the same event was
    stored already (``changed`` false) or it was modified (``changed`` true, a new version)."""
    grid = dr_events.connection(request.app.state.settings.grid_import_limit_kw)
    row, outcome = dr_events.intake(session, dr_events.EventContent.of(body), source="api",
                                    now=_now(), grid=grid, key_id=principal.key_id)
    if outcome != "created":
        response.status_code = 200
    return dr_events.event_json(row, changed=outcome != "unchanged")


@dr.get("/events", response_model=list[DrEventOut])
def list_events(session: SessionDep, _: PrincipalDep, start: Instant | None = None,
                end: Instant | None = None) -> list[dict[str, Any]]:
    """Events meeting [start, end) (all without bounds), by start."""
    return [dr_events.event_json(r) for r in repo.list_events(session, start, end)]


@dr.get("/events/{event_id}", response_model=DrEventOut)
def get_event(event_id: EventIdPath, session: SessionDep, _: PrincipalDep) -> dict[str, Any]:
    """One event with every version received (the audit trail)."""
    return dr_events.get_event(session, event_id)


@dr.get("/openadr", response_model=OpenAdrStatusOut)
def openadr_status(request: Request, _: OperatorDep) -> dict[str, Any]:
    """The OpenADR VEN: whether it runs, its registration and its latest opt decisions."""
    settings = request.app.state.settings
    ven = getattr(request.app.state, "openadr_ven", None)
    return {"enabled": ven is not None, "vtn_url": settings.openadr_vtn_url,
            "ven_id": settings.openadr_ven_id,
            "ven_name": settings.openadr_ven_name if ven is not None else None,
            "running": bool(ven is not None and ven.running),
            "registered": bool(ven is not None and ven.registered),
            "decisions": list(ven.decisions) if ven is not None else []}

"""Demand-response plans and settlements, and the monthly VPP summary. Enterprise keys see their
own instructions and settlement lines (and the park's totals); operators plan and settle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from app.auth import OperatorDep, PrincipalDep, SessionDep
from app.schemas.dr_plans import DrPlanOut, DrSettlementOut, VppSummaryOut
from app.services import dr_plans as svc

router = APIRouter(prefix="/v1/dr", tags=["virtual power plant"])

MonthQ = Annotated[str, Query(description="YYYY-MM (Asia/Shanghai)", min_length=7,
                              max_length=7, examples=["2026-07"])]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/events/{event_id}/plan", status_code=201, response_model=DrPlanOut,
             responses={200: {"model": DrPlanOut, "description": "planned already"}})
def post_plan(event_id: str, response: Response, session: SessionDep,
              principal: OperatorDep) -> dict[str, Any]:
    """Plan the event now (operators; the plan job does the same). 201 when made; 200 when the
    event's current version was planned already (nothing changes)."""
    _, outcome = svc.make_plan(session, event_id, _now())
    if outcome != "created":
        response.status_code = 200
    session.flush()
    return svc.plan_json(session, principal, event_id)


@router.get("/events/{event_id}/plan", response_model=DrPlanOut)
def get_plan(event_id: str, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The current plan: per-resource instructions per 15-minute step with their deadline, the
    delivery and shortfall per step, and resources that could not take part (with the reason).
    An enterprise key sees its own instructions only."""
    return svc.plan_json(session, principal, event_id)


@router.post("/events/{event_id}/settlement", status_code=201, response_model=DrSettlementOut,
             responses={200: {"model": DrSettlementOut, "description": "settled already"}})
def post_settlement(event_id: str, response: Response, session: SessionDep,
                    principal: OperatorDep) -> dict[str, Any]:
    """Settle the event from the meters now (operators; after it ends). 201 when settled; 200
    when its current version was settled already (nothing changes)."""
    _, outcome = svc.make_settlement(session, event_id, _now())
    if outcome != "created":
        response.status_code = 200
    session.flush()
    return svc.settlement_json(session, principal, event_id)


@router.get("/events/{event_id}/settlement", response_model=DrSettlementOut,
            responses={200: {"content": {"text/csv": {}}}})
def get_settlement(event_id: str, session: SessionDep, principal: PrincipalDep,
                   format: Literal["json", "csv"] = "json") -> Any:
    """Delivered energy per resource, enterprise and the park (baseline − actual; actual −
    baseline for an increase event), delivery ratio, revenue at the event price split by
    delivered energy, and shortfall. An enterprise key sees its own lines and the park's."""
    answer = svc.settlement_json(session, principal, event_id)
    if format == "csv":
        return Response(svc.settlement_csv(answer), media_type="text/csv", headers={
            "content-disposition": f'attachment; filename="dr_settlement_{event_id}.csv"'})
    return answer


@router.get("/summary", response_model=VppSummaryOut)
def get_summary(month: MonthQ, session: SessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """The month's events with their settlement, totals, and delivery and revenue per
    enterprise (an enterprise key: its own)."""
    return svc.summary_json(session, principal, month)

"""Alerts raised by the data-completeness job; operators may also run the check on demand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth import OperatorDep, PrincipalDep, SessionDep
from app.models import Alert, Enterprise, Meter
from app.params import IdPath, Instant, check_window
from app.problems import Problem
from app.schemas.core import AlertOut, OwnerQ
from app.services import alerts as alerts_svc
from app.services import core as core_svc

router = APIRouter(prefix="/v1", tags=["alerts"])
MAX_CHECK_DAYS = 366


def alert_out(session: SessionDep, a: Alert) -> AlertOut:
    meter = session.get(Meter, a.meter_id) if a.meter_id else None
    ent = session.get(Enterprise, a.enterprise_id) if a.enterprise_id else None
    return AlertOut(id=a.id, kind=a.kind, meter=meter.code if meter else None,
                    enterprise=ent.code if ent else None, period_start=a.period_start,
                    period_end=a.period_end, message=a.message, opened_at=a.opened_at,
                    acknowledged_by=a.acknowledged_by, acknowledged_at=a.acknowledged_at)


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(session: SessionDep, principal: PrincipalDep, open_only: bool = False,
                meter: str | None = None, enterprise: OwnerQ = None) -> list[AlertOut]:
    meter_id = None
    if meter is not None:

        meter_id = core_svc.get_meter(session, principal, meter, enterprise).id
    return [alert_out(session, a)
            for a in alerts_svc.list_alerts(session, principal, open_only=open_only,
                                            meter_id=meter_id)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge(alert_id: IdPath, session: SessionDep, principal: PrincipalDep) -> AlertOut:
    if principal.role == "planner":
        raise Problem(403, "Planners cannot acknowledge alerts.")
    return alert_out(session, alerts_svc.acknowledge(session, principal, alert_id))


@router.post("/alerts/check")
def run_completeness_check(session: SessionDep, _: OperatorDep,
                           start: Annotated[Instant, Query()],
                           end: Annotated[Instant, Query()]) -> dict[str, int]:
    """Run the scheduled data-completeness check now for [start, end) (the job's function),
    at most :data:`MAX_CHECK_DAYS` days."""
    check_window(start, end, max_days=MAX_CHECK_DAYS)
    return {"opened": alerts_svc.check_completeness(session, start, end)}

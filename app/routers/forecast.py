"""Load and PV forecasts with their backtested skill."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.auth import PrincipalDep, SessionDep
from app.params import Instant
from app.schemas.forecast import ForecastOut, Target
from app.services import forecast as svc

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])

CodeQ = Annotated[str | None, Query(max_length=128, description=(
    "zone name, enterprise code, meter code or PV array code (not for target=park; an "
    "enterprise key's own code by default for target=enterprise)"))]


@router.get("", response_model=ForecastOut)
def get_forecast(
    session: SessionDep,
    principal: PrincipalDep,
    target: Annotated[Target, Query(description="park, zone, enterprise, meter or array")],
    start: Annotated[Instant, Query(description="first interval start, ISO 8601 with offset; "
                                    "in the past the forecast reads only readings before it")],
    code: CodeQ = None,
    horizon_hours: Annotated[float, Query(gt=0, le=svc.MAX_HORIZON_HOURS,
                                          description="hours forecast from start")] = 24.0,
    enterprise: Annotated[str | None, Query(max_length=128, description=(
        "owner of a meter or array code several enterprises use (operators)"))] = None,
) -> dict[str, Any]:
    """Load (park, zone, enterprise: import + PV generation − export; meter: its own carrier)
    or PV (array) per interval, with p10/p90, issued at min(start, now) from the readings before
    it, and the skill of the same method in a rolling-origin backtest on the target's history
    (MASE against the weekly seasonal naive and the daily naive, nMAE). An enterprise key
    forecasts only itself, its meters and arrays."""
    return svc.forecast(session, principal, target, code, start, horizon_hours,
                        datetime.now(UTC), enterprise)

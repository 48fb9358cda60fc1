"""Upload of activity data (value added, process CO2, guiding-indicator inputs; green
electricity is recorded as instruments, see carbon_instruments): the rules of readings —
idempotent, revisions audited with who/when, all-or-nothing, problem+json naming every bad row
and field. Month records of a closed month are refused (409 per row): a closed period changes
only through a reopen."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.auth import Principal
from app.json_records import body_records
from app.problems import Problem, RowError, batch_rejected, batch_too_large
from app.repositories import carbon as repo
from app.repositories import core as core_repo
from app.repositories.carbon import activity_list as activity_list
from app.repositories.carbon import activity_revisions as activity_revisions
from app.schemas.core import MAX_ABS_VALUE
from app.services.carbon import ACTIVITY_QUANTITIES, INSTRUMENT_QUANTITIES
from app.services.carbon_periods import PeriodError, parse_period

MAX_ROWS = 100_000
COLUMNS = ("enterprise", "period", "quantity", "value")



def _value(v: Any, max_abs_value: float) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(str(v).strip())
    except ValueError:
        return None
    return x if math.isfinite(x) and 0 <= x <= max_abs_value else None


def record_activity(engine: Engine, principal: Principal, body: bytes, content_type: str,
                    max_abs_value: float = MAX_ABS_VALUE) -> dict[str, Any]:
    """Validate every row, then store the batch in one transaction; returns the counts.
    ``max_abs_value``: the largest value accepted (it keeps every sum of them finite)."""
    items = body_records(body, content_type, "records", ("period", "quantity", "value"))
    if len(items) > MAX_ROWS:
        raise batch_too_large(f"A batch may hold at most {MAX_ROWS} records.")
    with Session(engine) as session:
        visible = core_repo.visible_enterprise_ids(session, principal)
    errors: list[RowError] = []
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[int, str, str], int] = {}
    for i, item in enumerate(items, start=1):
        def bad(field: str, message: str, row: int = i) -> None:
            errors.append(RowError(row=row, field=field, message=message))

        code = str(item.get("enterprise") or principal.enterprise_code or "").strip()
        ent_id = visible.get(code)
        if not code:
            bad("enterprise", "required")
        elif ent_id is None:
            bad("enterprise", f"unknown enterprise (or not yours): {code}")
        try:
            period = parse_period(str(item.get("period") or "").strip())
        except PeriodError as exc:
            period = None
            bad("period", str(exc))
        quantity = str(item.get("quantity") or "").strip()
        if quantity in INSTRUMENT_QUANTITIES:
            bad("quantity", f"{quantity} is no longer activity data: record each green-electricity"
                " instrument with its id at POST /v1/carbon/instruments (an id is claimed once"
                " in the park) / 绿证、绿电交易、绿电直连请按凭证逐条登记")
        elif quantity not in ACTIVITY_QUANTITIES:
            bad("quantity", f"unknown quantity {quantity!r}; known: {list(ACTIVITY_QUANTITIES)}")
        value = _value(item.get("value"), max_abs_value)
        if value is None:
            bad("value", f"not a finite number in [0, {max_abs_value:g}]")
        extra = set(item) - set(COLUMNS)
        if extra:
            bad(sorted(extra)[0], "unknown field")
        if ent_id is None or period is None or value is None or \
                quantity not in ACTIVITY_QUANTITIES:
            continue
        key = (ent_id, period.label, quantity)
        if key in seen:
            bad("quantity", f"duplicate of row {seen[key]} (same enterprise, period, quantity)")
            continue
        seen[key] = i
        rows.append({"row": i, "enterprise_id": ent_id, "period": period.label,
                     "period_start": period.start, "period_end": period.end,
                     "months": period.months, "quantity": quantity, "value": value})
    if errors:
        raise batch_rejected(errors)
    if not rows:
        raise batch_rejected([RowError(row=None, field="body", message="empty")],
                             "The batch holds no records.")
    with engine.begin() as conn:
        months = sorted({r["period"] for r in rows if r["months"] == 1})
        closed = repo.closed_months_for_write(conn, months) if months else set()
        if closed:
            raise Problem(409, "Records for closed months; reopen the month first.",
                          kind="period-closed",
                          errors=[{"row": r["row"], "field": "period",
                                   "message": f"{r['period']} is closed"}
                                  for r in rows if r["period"] in closed])
        counts = repo.write_activity(conn, rows, {
            "api_key_id": principal.key_id, "enterprise_id": principal.enterprise_id,
            "payload_sha256": hashlib.sha256(body).hexdigest(), "rows": len(rows)})
    return {**counts, "rows": len(rows)}

"""Readings upload and series, and the park's totals."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import tempfile
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from app.auth import PrincipalDep, SessionDep, WriterDep
from app.deps import ReadingsStoreDep
from app.errors import DomainError
from app.metrics import INGEST_BATCHES, INGEST_BYTES, INGEST_ROWS
from app.models import Meter
from app.params import Instant, check_window
from app.problems import Problem, field_problem, problem_of
from app.schemas.core import (
    OwnerQ,
    ParkEnergyOut,
    Point,
    RevisionOut,
    SeriesOut,
    UploadOut,
)
from app.services import core as core_svc
from app.services import readings as readings_svc
from app.services.answer_cache import remembered
from app.services.reading_chunks import upload_kind
from app.services.readings import IngestContext, ingest_upload, meter_resolution
from energy.units import carrier_spec, round_to_resolution

router = APIRouter(prefix="/v1", tags=["readings"])

SPOOL_MEMORY_BYTES = 4 << 20
"""An upload body up to this size is kept in memory; a larger one is spooled to a temporary file."""
CSV_EXAMPLE = "meter,ts,value\nM-001,2026-03-01T00:00:00+08:00,12.5\n"


@router.post(
    "/readings", response_model=UploadOut,
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    }}},
)
async def upload_readings(request: Request, principal: WriterDep) -> UploadOut:
    """Upload readings of many meters (CSV header ``meter,ts,value[,quality][,unit]`` or JSON).

    All-or-nothing: any bad row rejects the batch with 422 naming every row and field.
    Re-sending a batch changes nothing; a changed value is a revision kept in the audit trail.
    """
    ctx: IngestContext = request.app.state.ingest_context
    content_type = request.headers.get("content-type", "")
    upload_kind(content_type)  # 415 before any byte is read
    # The body goes to a spooled file as it arrives (memory while small, disk beyond), then is
    # read back in chunks: a large upload never sits in memory whole.
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        digest = hashlib.sha256()
        try:
            async for part in request.stream():
                digest.update(part)
                spool.write(part)
        except ClientDisconnect:
            raise Problem(400, "The client closed the connection before the body was complete; "
                          "nothing was stored.", kind="incomplete-body") from None
        INGEST_BYTES.inc(spool.tell())
        spool.seek(0)
        try:
            answer = await run_in_threadpool(ingest_upload, ctx, principal, spool,
                                             content_type, digest.hexdigest())
        except (Problem, DomainError) as exc:
            INGEST_BATCHES.labels("rejected" if problem_of(exc).status < 500 else "failed").inc()
            raise
    INGEST_BATCHES.labels("stored").inc()
    INGEST_ROWS.inc(answer["rows"])
    return UploadOut(**answer)


def _check_range(start: datetime, end: datetime) -> None:
    check_window(start, end)


BUCKET_MINUTES: dict[str, int] = {"15min": 15, "hour": 60, "day": 1440, "month": 28 * 1440}
"""Shortest bucket of each resolution (a month: 28 days), for an upper bound on points."""


def _most_points(meter: Meter, start: datetime, end: datetime, resolution: str) -> int:
    """Most points a series of [start, end) can hold: readings lie on the meter's interval grid
    and a bucket answers one point."""
    minutes = max(meter.interval_minutes, BUCKET_MINUTES.get(resolution, 0))
    return math.ceil((end - start) / timedelta(minutes=minutes))


def _check_points(request: Request, meter: Meter, start: datetime, end: datetime,
                  resolution: str, fmt: str) -> None:
    """A 422 naming a coarser resolution or ``format=csv`` when the answer would be too long."""
    settings = request.app.state.settings
    caps = {"json": settings.max_series_points, "csv": settings.max_series_points_csv}
    points = _most_points(meter, start, end, resolution)
    if points <= caps[fmt]:
        return
    options = [f"resolution={r}" for r in BUCKET_MINUTES
               if BUCKET_MINUTES[r] > BUCKET_MINUTES.get(resolution, 0)
               and _most_points(meter, start, end, r) <= caps[fmt]]
    if fmt == "json" and points <= caps["csv"]:
        options.append("format=csv")
    options.append("a shorter window")
    use = " or ".join(options)
    raise field_problem(422, "too-many-points", "resolution",
                        f"more than {caps[fmt]} points; use {use}",
                        f"[start, end) holds up to {points} points at resolution={resolution}; "
                        f"a {fmt} answer holds at most {caps[fmt]}. Ask for {use}.",
                        max_points=caps[fmt])


@router.get("/meters/{code}/readings", response_model=SeriesOut,
            responses={200: {"content": {"text/csv": {}}}})
def meter_readings(
    code: str, request: Request, session: SessionDep, store: ReadingsStoreDep,
    principal: PrincipalDep,
    start: Annotated[Instant, Query(description="ISO 8601 with offset; inclusive")],
    end: Annotated[Instant, Query(description="ISO 8601 with offset; exclusive")],
    resolution: Literal["raw", "15min", "hour", "day", "month"] = "raw",
    format: Literal["json", "csv"] = "json",
    enterprise: OwnerQ = None,
) -> SeriesOut | Response:
    """A meter's series in Asia/Shanghai calendar buckets: sums for energy and quantities, means
    for weather and telemetry (non-summable carriers). A JSON answer holds at most
    ``max_series_points`` points (a CSV one ``max_series_points_csv``); a longer window is
    answered 422 naming a coarser resolution or ``format=csv``."""
    _check_range(start, end)
    meter = core_svc.get_meter(session, principal, code, enterprise)
    _check_points(request, meter, start, end, resolution, format)
    rows = store.meter_series(session.connection(), meter.id, start, end, resolution)
    tz = request.app.state.tz
    # Summable carriers (energy, volume, mass) aggregate as sums; weather and telemetry readings
    # are interval means, so their buckets are means of the readings in them.
    # Readings and sums are rounded to the meter's resolution (a sum of steps is a whole number
    # of steps); a mean of several readings keeps its digits (it is not a reading).
    summable = carrier_spec(meter.carrier).summable
    step = meter_resolution(meter)
    points = [Point(start=s.astimezone(tz),
                    value=round_to_resolution(v, step) if summable or n <= 1 else v / n,
                    quality=q, count=n) for s, v, q, n in rows]
    if format == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["meter", "start", "value", "unit", "quality", "count"])
        for p in points:
            writer.writerow([code, p.start.isoformat(), repr(p.value), meter.canonical_unit,
                             p.quality, p.count])
        return Response(buf.getvalue(), media_type="text/csv")
    return SeriesOut(meter=code, unit=meter.canonical_unit, resolution=resolution, points=points)


@router.get("/park/energy", response_model=ParkEnergyOut)
def park_energy(
    request: Request, session: SessionDep, store: ReadingsStoreDep, principal: PrincipalDep,
    start: Annotated[Instant, Query()], end: Annotated[Instant, Query()],
    by: Literal["carrier", "zone", "enterprise"] = "carrier",
) -> dict[str, object]:
    """The park's totals over whole Asia/Shanghai days in [start, end), grouped ``by``, per carrier
    (units differ by carrier; weather and telemetry are not totals and are left out). An
    enterprise key gets its own enterprise's totals only."""
    _check_range(start, end)
    conn = session.connection()
    enterprise_id = principal.enterprise_id if principal.role == "enterprise" else None
    totals = remembered(conn, ("park_energy", start, end, by, enterprise_id),
                        lambda: store.park_energy(conn, start, end, by, enterprise_id),
                        store=store)
    return {"start": start, "end": end, "by": by, "totals": totals}


@router.get("/meters/{code}/revisions", response_model=list[RevisionOut])
def meter_revisions(
    code: str, session: SessionDep, principal: PrincipalDep,
    start: Instant | None = None, end: Instant | None = None, enterprise: OwnerQ = None,
) -> list[dict[str, object]]:
    """The audit trail of a meter: every value a later batch replaced, with who and when."""
    if start is not None and end is not None:
        check_window(start, end)
    meter = core_svc.get_meter(session, principal, code, enterprise)
    return readings_svc.revisions(session.connection(), meter.id, start, end)

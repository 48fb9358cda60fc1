"""Carbon: activity data, ledgers (JSON/CSV), indicators, target status, closing, report."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from app.auth import OperatorDep, Principal, PrincipalDep, SessionDep, WriterDep
from app.deps import ReadingsStoreDep
from app.params import PERIOD_PATTERN
from app.problems import Problem, invalid
from app.schemas.carbon import (
    ActivityOut,
    ActivityRevisionOut,
    ActivityUploadOut,
    CloseOut,
    FactorSetOut,
    IndicatorsOut,
    InstrumentOut,
    InstrumentUploadOut,
    LedgerOut,
    PeriodDetailOut,
    TargetsStatusOut,
)
from app.services import carbon as svc
from app.services import carbon_activity, carbon_instruments
from app.services import core as core_svc
from app.services.carbon_activity import record_activity
from app.services.carbon_instruments import record_instruments
from app.services.carbon_periods import Period, PeriodError, parse_period
from carbon import available_factor_sets

router = APIRouter(prefix="/v1", tags=["carbon"])

PeriodQ = Annotated[str, Query(description="YYYY, YYYY-MM or YYYY-Qn (2000..2100)",
                               json_schema_extra={"pattern": PERIOD_PATTERN},
                               examples=["2026-03"])]
PeriodP = Annotated[str, Path(description="YYYY-MM (2000..2100)",
                              json_schema_extra={"pattern": PERIOD_PATTERN})]
ScopeQ = Annotated[Literal["park", "enterprise"], Query()]
FactorSetQ = Annotated[str | None, Query(max_length=64, description=(
    "a published factor set (GET /v1/carbon/factor-sets); default: the policy's"))]
BasisQ = Annotated[Literal["calorific", "equivalent"] | None, Query(description=(
    "electricity in tce: calorific = 当量值 (0.1229 kgce/kWh, the default), equivalent = 等价值"
    " (fossil generation coal use of the year)"))]
VersionQ = Annotated[int | None, Query(ge=1, le=100_000, description=(
    "a closed version of the month (every close makes one; default: the newest)"))]
CSV_EXAMPLE = "enterprise,period,quantity,value\nE-001,2026,value_added_10k_yuan,52000\n"


def _period(label: str, field: str = "period") -> Period:
    try:
        return parse_period(label)
    except PeriodError as exc:
        raise invalid(field, str(exc), str(exc)) from None


def _basis(factor_set: str | None, basis: str | None) -> svc.Basis:
    known = available_factor_sets()
    if factor_set is not None and factor_set not in known:
        raise invalid("factor_set", f"use one of {known}",
                      f"Unknown factor set {factor_set!r}; published: {known}.")
    return svc.Basis(factor_set, basis)


@router.get("/carbon/factor-sets", response_model_exclude_unset=True)
def factor_sets(_: PrincipalDep) -> list[FactorSetOut]:
    """The published, versioned factor sets (reference data): version, compilation date,
    description, the default, and key factors with value, unit, source and year."""
    return [FactorSetOut.model_validate(f) for f in svc.available_factor_sets()]


def _entity(session: SessionDep, principal: Principal, scope: str, code: str | None
            ) -> svc.Entity:
    """Park: operators and planners; an enterprise: its own key, operators, planners."""
    if scope == "park":
        if principal.role == "enterprise":
            raise Problem(403, "An enterprise key sees its own ledger only (scope=enterprise).")
        return svc.Entity("park", "park")
    code = code or principal.enterprise_code
    if not code:
        raise invalid("code", "required", "Say which enterprise.")
    ent = core_svc.get_enterprise(session, principal, code)
    return svc.Entity("enterprise", ent.code, ent.id)


@router.post("/carbon/activity", openapi_extra={"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}, "example": CSV_EXAMPLE},
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
}}}, response_model_exclude_unset=True)
async def upload_activity(request: Request, principal: WriterDep) -> ActivityUploadOut:
    """Record activity data: rows ``enterprise, period, quantity, value`` (CSV or JSON).

    quantity is one of value_added_10k_yuan (comparable prices), process_co2_t,
    solid_waste_generated_t,
    solid_waste_utilised_t, solid_waste_utilised_from_storage_t, waste_heat_available_gj,
    waste_heat_used_gj, water_withdrawn_m3, water_reused_m3, cod_kg. Same batch again: nothing
    changes; a changed value is a revision kept with who and when; any bad row rejects all.
    Green electricity (certificates, trades, direct supply): POST /v1/carbon/instruments."""
    body = await request.body()
    return ActivityUploadOut.model_validate(await run_in_threadpool(
        record_activity, request.app.state.engine, principal, body,
        request.headers.get("content-type", ""), request.app.state.settings.max_abs_value))


INSTRUMENTS_CSV_EXAMPLE = (
    "id,kind,enterprise,period,mwh,bundled_with,source\n"
    "DL-7-2026-03,direct_supply,E-001,2026-03,150,,line 7 settlement\n"
    "GEC-0001,gec,E-001,2026-03,100,DL-7-2026-03,registry batch 12\n")


@router.post("/carbon/instruments", openapi_extra={"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}, "example": INSTRUMENTS_CSV_EXAMPLE},
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
}}}, response_model_exclude_unset=True)
async def upload_instruments(request: Request, principal: WriterDep) -> InstrumentUploadOut:
    """Record green-electricity instruments: ``id, kind (gec | green_power_trade |
    direct_supply), enterprise, period (YYYY-MM), mwh, bundled_with (id or empty), source``.

    An id is claimed once in the whole park (another enterprise's id: 409 "already claimed").
    A gec bundled with a trade or direct supply is its proof and adds no coverage; a direct
    supply covers only metered green-direct electricity. Same batch again: nothing changes; a
    change is a revision kept with who and when; any bad row rejects all. A closed month's
    instruments are stored and listed in ``closed_periods_touched`` (reopen to restate)."""
    body = await request.body()
    return InstrumentUploadOut.model_validate(await run_in_threadpool(
        record_instruments, request.app.state.engine, principal, body,
        request.headers.get("content-type", "")))


@router.get("/carbon/instruments", response_model_exclude_unset=True)
def list_instruments(session: SessionDep, principal: PrincipalDep, enterprise: str | None = None,
                     period: str | None = None) -> list[InstrumentOut]:
    """Instruments (an enterprise sees its own only), with their batch and revision count."""
    ent_id = _entity(session, principal, "enterprise", enterprise).enterprise_id \
        if enterprise or principal.role == "enterprise" else None
    return [InstrumentOut.model_validate(r)
            for r in carbon_instruments.instrument_list(session.connection(), ent_id, period)]


@router.get("/carbon/activity", response_model_exclude_unset=True)
def list_activity(session: SessionDep, principal: PrincipalDep, enterprise: str | None = None,
                  period: str | None = None) -> list[ActivityOut]:
    """Activity data (an enterprise sees its own only), with its batch and revision count."""
    ent_id = _entity(session, principal, "enterprise", enterprise).enterprise_id \
        if enterprise or principal.role == "enterprise" else None
    return [ActivityOut.model_validate(r)
            for r in carbon_activity.activity_list(session.connection(), ent_id, period)]


@router.get("/carbon/activity/revisions", response_model_exclude_unset=True)
def activity_revisions(session: SessionDep, principal: PrincipalDep,
                       enterprise: str | None = None, period: str | None = None
                       ) -> list[ActivityRevisionOut]:
    """The audit trail of activity data: every value a later batch replaced, who and when."""
    ent_id = _entity(session, principal, "enterprise", enterprise).enterprise_id \
        if enterprise or principal.role == "enterprise" else None
    return [ActivityRevisionOut.model_validate(r)
            for r in carbon_activity.activity_revisions(session.connection(), ent_id, period)]


def ledger_csv(answer: dict[str, Any]) -> str:
    """Long CSV: section, key, value, unit; every factor used with its unit (``factor``) and
    its source and year (``factor_source``, unit column = confidence tag)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scope", "code", "period", "factor_set", "section", "key", "value", "unit"])
    head = [answer["scope"], answer["code"], answer["period"], answer["factor_set"]]

    def row(section: str, key: str, value: Any, unit: str) -> None:
        w.writerow([*head, section, key, "" if value is None else repr(value), unit])

    row("total", "energy_tce", answer["energy_tce"], "tce")
    row("total", "co2_t", answer["co2_t"], "tCO2")
    row("total", "co2_location_based_t", answer["co2_location_based_t"], "tCO2")
    row("total", "co2_market_based_t", answer["co2_market_based_t"], "tCO2")
    row("total", "co2_bunkers_memo_t", answer["co2_bunkers_memo_t"], "tCO2")
    row("total", "electricity_consumed_kwh", answer["electricity_consumed_kwh"], "kWh")
    row("total", "clean_energy_tce", answer["clean_energy_tce"], "tce")
    for carrier, c in answer["energy_by_carrier"].items():
        if "quantity" in c:
            row("energy_by_carrier", f"{carrier}.quantity", c["quantity"], c["unit"])
        row("energy_by_carrier", f"{carrier}.tce", c["tce"], "tce")
    for src, v in answer["co2_by_source"].items():
        row("co2_by_source", src, v, "tCO2")
    for k, v in answer["inputs"]["energy"].items():
        row("input", k, v, k.rsplit("_", 1)[-1])
    for k, v in answer["inputs"]["activity"].items():
        if k != "bunker_fuels":
            row("activity", k, v, "万元" if k.endswith("_10k_yuan") else k.rsplit("_", 1)[-1])
    for key, f in answer["factors_used"].items():
        row("factor", key, f["value"], f["unit"])
        w.writerow([*head, "factor_source", key, f"{f['source']} ({f['year']})",
                    f.get("confidence", "")])
    w.writerow([*head, "provenance", "basis",
                f"{answer.get('basis', '')} {answer.get('basis_zh', '')}".strip(), ""])
    row("provenance", "status", answer.get("status"), "")
    row("provenance", "input_hash", answer.get("input_hash"), "")
    row("provenance", "meter_count", answer["provenance"]["meter_count"], "")
    row("provenance", "readings", answer["provenance"]["readings"], "")
    return buf.getvalue()


@router.get("/carbon/ledger", response_model=LedgerOut, response_model_exclude_unset=True,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def get_ledger(request: Request, session: SessionDep, store: ReadingsStoreDep,
               principal: PrincipalDep, scope: ScopeQ,
               period: PeriodQ, code: str | None = None,
               format: Literal["json", "csv"] = "json", version: VersionQ = None,
               factor_set: FactorSetQ = None, basis: BasisQ = None) -> LedgerOut | Response:
    """Energy (tce) and CO2 of the park or an enterprise, by carrier and by source, with the
    inputs, factor set, input hash and provenance. A closed month answers from its frozen
    ledger; a quarter or year sums closed months' frozen inputs with the live ones."""
    p = _period(period)
    entity = _entity(session, principal, scope, code)
    answer = svc.ledger(session.connection(), entity, p, store=store,
                        version=version, want=_basis(factor_set, basis))
    if format == "csv":
        return Response(ledger_csv(answer), media_type="text/csv", headers={
            "content-disposition": f'attachment; filename="ledger_{entity.code}_{p.label}.csv"'})
    return LedgerOut.model_validate(answer)


@router.get("/indicators", response_model_exclude_unset=True)
def get_indicators(request: Request, session: SessionDep, store: ReadingsStoreDep,
                   principal: PrincipalDep,
                   scope: ScopeQ, period: PeriodQ, code: str | None = None,
                   version: VersionQ = None, factor_set: FactorSetQ = None,
                   basis: BasisQ = None) -> IndicatorsOut:
    """Indicators (unit in every name) with their targets; the base is the 2025 ledger."""
    entity = _entity(session, principal, scope, code)
    return IndicatorsOut.model_validate(svc.indicators(
        session.connection(), entity, _period(period), store=store,
        version=version, want=_basis(factor_set, basis)))


@router.get("/targets/status", response_model_exclude_unset=True)
def get_targets_status(request: Request, session: SessionDep, store: ReadingsStoreDep,
                       principal: PrincipalDep,
                       scope: ScopeQ, code: str | None = None,
                       as_of: Annotated[str | None, Query(
                           description="YYYY or YYYY-MM-DD; default today")] = None,
                       ) -> TargetsStatusOut:
    """Per target and phase: actual, target, trend projected to the phase end, yearly change
    still needed, status (achieved | missed | on_track | off_track | no_data | incomplete |
    insufficient_data), each with the coverage of its year and a reason for every null."""
    entity = _entity(session, principal, scope, code)
    try:
        year = int(as_of[:4]) if as_of else date.today().year
        if as_of and len(as_of) > 4:
            date.fromisoformat(as_of)
        if not 2000 <= year <= 2100:
            raise ValueError(as_of)
    except ValueError:
        raise invalid("as_of", "not a date", "as_of: use YYYY or YYYY-MM-DD.") from None
    day = date.fromisoformat(as_of) if as_of and len(as_of) > 4 else None
    return TargetsStatusOut.model_validate(svc.targets_status(
        session.connection(), entity, year, store=store, as_of=day))


class ReopenIn(BaseModel):
    reason: str = Field(min_length=3, description="Why the closed month must change")


@router.post("/carbon/periods/{period}/close", response_model_exclude_unset=True)
def close_period(period: PeriodP, request: Request, store: ReadingsStoreDep,
                 principal: OperatorDep) -> CloseOut:
    """Freeze the month's ledgers (the monthly job does this for the previous month)."""
    _period(period)
    return CloseOut.model_validate(svc.close_period(
        request.app.state.engine, period, api_key_id=principal.key_id,
        actor=f"key {principal.key_id}", store=store))


@router.post("/carbon/periods/{period}/reopen", response_model_exclude_unset=True)
def reopen_period(period: PeriodP, body: ReopenIn, request: Request, principal: OperatorDep
                  ) -> CloseOut:
    """Reopen a closed month (audited with who, when and why); close it again afterwards."""
    _period(period)
    return CloseOut.model_validate(svc.reopen_period(
        request.app.state.engine, period, api_key_id=principal.key_id,
        actor=f"key {principal.key_id}", reason=body.reason))


@router.get("/carbon/periods/{period}", response_model_exclude_unset=True)
def period_detail(period: PeriodP, request: Request, session: SessionDep,
                  store: ReadingsStoreDep, _: OperatorDep) -> PeriodDetailOut:
    """Status, close/reopen events, and for a closed month every frozen ledger's input hash
    against a recomputation from the stored data (``verification.all_same``)."""
    _period(period)
    return PeriodDetailOut.model_validate(
        svc.period_detail(session.connection(), period, store=store))


@router.get("/carbon/report", response_class=HTMLResponse)
def monthly_report(request: Request, session: SessionDep, store: ReadingsStoreDep,
                   _: OperatorDep, period: PeriodQ,
                   lang: Literal["zh", "en"] = "zh", version: VersionQ = None,
                   factor_set: FactorSetQ = None, basis: BasisQ = None) -> HTMLResponse:
    """Monthly report (HTML; tables and inline SVG plots of energy, carbon and intensity against
    target, year to date) in Chinese or English."""
    from app.services.carbon_report import monthly_report as build

    p = _period(period)
    if p.months != 1:
        raise invalid("period", "not YYYY-MM", "The report is monthly: period=YYYY-MM.")
    html = build(session.connection(), p, lang, store=store,
                 version=version, want=_basis(factor_set, basis))
    return HTMLResponse(html)

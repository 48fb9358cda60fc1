"""Enterprises and meters."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth import OperatorDep, PrincipalDep, SessionDep, WriterDep
from app.models import Enterprise, Meter
from app.problems import invalid
from app.schemas.core import EnterpriseIn, EnterpriseOut, MeterIn, MeterOut, OwnerQ
from app.services import core as core_svc
from app.services.readings import meter_resolution
from energy.units import CARRIERS, UnitError, carrier_spec, check_unit_for_carrier

router = APIRouter(prefix="/v1", tags=["enterprises and meters"])


def enterprise_out(e: Enterprise) -> EnterpriseOut:
    return EnterpriseOut(code=e.code, name=e.name, zone=e.zone, industry=e.industry)


def meter_out(m: Meter) -> MeterOut:
    return MeterOut(
        code=m.code, enterprise=m.enterprise.code, carrier=m.carrier, unit=m.unit,
        canonical_unit=m.canonical_unit, register_type=m.register,
        interval_minutes=m.interval_minutes,
        green_direct_supply=m.green_direct_supply, rollover_at=m.rollover_at,
        density_kg_per_l=m.density_kg_per_l, max_per_hour=m.max_per_hour,
        value_resolution=meter_resolution(m), name=m.name,
    )


@router.post("/enterprises", status_code=201, response_model=EnterpriseOut)
def create_enterprise(body: EnterpriseIn, session: SessionDep, _: OperatorDep) -> EnterpriseOut:
    return enterprise_out(core_svc.create_enterprise(session, body.code, body.name, body.zone,
                                                 body.industry))


@router.get("/enterprises", response_model=list[EnterpriseOut])
def list_enterprises(session: SessionDep, principal: PrincipalDep) -> list[EnterpriseOut]:
    return [enterprise_out(e) for e in core_svc.list_enterprises(session, principal)]


@router.get("/enterprises/{code}", response_model=EnterpriseOut)
def get_enterprise(code: str, session: SessionDep, principal: PrincipalDep) -> EnterpriseOut:
    return enterprise_out(core_svc.get_enterprise(session, principal, code))


@router.post("/meters", status_code=201, response_model=MeterOut)
def create_meter(body: MeterIn, session: SessionDep, principal: WriterDep) -> MeterOut:
    code = body.enterprise or principal.enterprise_code
    if code is None:
        raise invalid("enterprise", "required", "Say which enterprise the meter belongs to.")
    ent = core_svc.get_enterprise(session, principal, code)
    try:
        spec = carrier_spec(body.carrier)
        unit = check_unit_for_carrier(body.unit or spec.canonical_unit, body.carrier)
    except UnitError as exc:
        field = "carrier" if body.carrier not in CARRIERS else "unit"
        raise invalid(field, str(exc), str(exc)) from None
    if 1440 % body.interval_minutes:
        raise invalid("interval_minutes", "must divide 1440", "interval_minutes must divide a day.")
    meter = Meter(
        code=body.code, enterprise_id=ent.id, carrier=body.carrier, unit=unit,
        canonical_unit=spec.canonical_unit, register=body.register_type,
        interval_minutes=body.interval_minutes, green_direct_supply=body.green_direct_supply,
        rollover_at=body.rollover_at, density_kg_per_l=body.density_kg_per_l,
        normal_volume_factor=body.normal_volume_factor, max_per_hour=body.max_per_hour,
        value_resolution=body.value_resolution, name=body.name,
    )
    return meter_out(core_svc.create_meter(session, meter))


@router.get("/meters", response_model=list[MeterOut])
def list_meters(session: SessionDep, principal: PrincipalDep,
                enterprise: str | None = None) -> list[MeterOut]:
    return [meter_out(m) for m in core_svc.list_meters(session, principal, enterprise)]


@router.get("/meters/{code}", response_model=MeterOut)
def get_meter(code: str, session: SessionDep, principal: PrincipalDep,
              enterprise: OwnerQ = None) -> MeterOut:
    return meter_out(core_svc.get_meter(session, principal, code, enterprise))

"""A small demo park: ~8 enterprises in the 4 zones, meters of several carriers and the year 2026
of deterministic synthetic 15-minute readings (numpy, seeded).

Extend it by appending a loader to :data:`DEMO_LOADERS`: ``loader(ctx: DemoContext) -> None``
(e.g. PV arrays, storage, value added). Each loader sees the enterprises and meters created before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.auth import Principal, create_api_key
from app.config import Settings
from app.demo import carbon as carbon_demo
from app.demo import pv as demo_pv
from app.demo import vpp as demo_vpp
from app.demo.common import (
    ENTERPRISES,
    SEED,
    TZ,
    DemoContext,
    batch_loaded,
    daily_shape,
    demo_end,
    digest,
    ingest_series,
    missing_range,
    stamp,
    steady_values,
)
from app.models import ApiKey, Enterprise, Meter
from app.repositories.readings_store import ReadingsStore
from app.services.readings import ingest_frame
from energy.site import PARK_TZ
from energy.units import carrier_spec


def load_enterprises_and_meters(ctx: DemoContext) -> None:
    for code, name, zone, industry, meters in ENTERPRISES:
        ent = ctx.session.scalar(select(Enterprise).where(Enterprise.code == code))
        if ent is None:
            ent = Enterprise(code=code, name=name, zone=zone, industry=industry)
            ctx.session.add(ent)
            ctx.session.flush()
        ctx.enterprises[code] = ent
        for carrier, _mean, _shape_kind in meters:
            mcode = f"{code}-{carrier}"
            meter = ctx.session.scalar(select(Meter).where(Meter.code == mcode,
                                                        Meter.enterprise_id == ent.id))
            if meter is None:
                spec = carrier_spec(carrier)
                meter = Meter(code=mcode, enterprise_id=ent.id, carrier=carrier,
                              unit=spec.canonical_unit, canonical_unit=spec.canonical_unit,
                              register="interval", interval_minutes=15,
                              green_direct_supply=False, name=f"{name} {spec.label_zh}")
                ctx.session.add(meter)
                ctx.session.flush()
            ctx.meters[mcode] = meter
    ctx.session.commit()


def load_readings(ctx: DemoContext) -> None:
    """15-minute readings per meter from the demo's start to ``ctx.end``, through the same
    ingest path as the API; a restart adds only what is missing."""
    for code, _name, _zone, _industry, meters in ENTERPRISES:
        codes = [f"{code}-{carrier}" for carrier, _mean, _kind in meters]
        local = missing_range(ctx, codes)
        if not len(local):
            continue
        ingest_series(ctx, {
            mcode: steady_values(mcode, local,
                                 lambda full, rng, m=mean, k=kind:
                                 m * daily_shape(k, full, rng))
            for mcode, (_carrier, mean, kind) in zip(codes, meters, strict=True)},
            local, f"{code}-{stamp(local)}")


def load_pv(ctx: DemoContext) -> None:
    demo_pv.load_pv_park(ctx)


def load_demo_scenarios(ctx: DemoContext) -> None:
    """Queue the example scenarios (simulations/examples) once; the scheduler's worker runs them
    in the background, so GET /v1/scenarios shows them done shortly after start."""
    from app.models.simulations import ScenarioRun
    from app.repositories.scenarios import queue_run
    from simulations.scenario import load_scenario

    examples = Path(__file__).resolve().parents[2] / "simulations" / "examples"
    for name in ("plan_as_written", "cheaper_variant"):
        if ctx.session.scalar(select(ScenarioRun.id).where(ScenarioRun.name == name)) is None:
            scenario = load_scenario(examples / f"{name}.yaml").to_dict()
            queue_run(ctx.session, name, scenario, ctx.principal.key_id)
    ctx.session.commit()


DEMO_LOADERS: list[Callable[[DemoContext], None]] = [load_enterprises_and_meters, load_readings,
                                                     load_pv, load_demo_scenarios]
"""Run in order by :func:`load_demo_park`; append yours."""
DEMO_LOADERS[1:1] = [carbon_demo.load_carbon_base_year]  # older readings before the demo year's
DEMO_LOADERS.append(carbon_demo.load_carbon_demo)


@dataclass(frozen=True)
class DemoState:
    """What a database holds before the demo is loaded into it."""

    demo_enterprises: int
    """How many of the demo park's enterprises are there already."""
    other_enterprises: list[str]
    """Codes of enterprises that are not the demo's."""

    @property
    def message(self) -> str:
        """What ``serve --demo`` is going to do, for the person who started it."""
        total = len(demo_enterprise_codes())
        if self.other_enterprises:
            shown = ", ".join(self.other_enterprises[:5])
            more = f" and {len(self.other_enterprises) - 5} more" if len(
                self.other_enterprises) > 5 else ""
            return (f"this database holds {len(self.other_enterprises)} enterprise(s) that are "
                    f"not the demo's ({shown}{more}): they are left untouched; the demo park's "
                    f"{total} enterprises and their data are added next to them, so park totals "
                    f"will include both. Use an empty database (or unset --demo) to avoid this.")
        if self.demo_enterprises:
            return ("demo park found in this database: keeping its data and loading only what "
                    "is missing")
        return (f"empty database: loading the demo park ({total} enterprises, PV, storage, "
                f"carbon data)")


def demo_enterprise_codes() -> set[str]:
    from app.services.storage import PARK_OWNER

    return {code for code, *_ in ENTERPRISES} | {demo_pv.OPS[0], PARK_OWNER[0]}


def demo_state(session: Session) -> DemoState:
    """Which enterprises of the demo (and which others) the database holds."""
    codes = set(session.scalars(select(Enterprise.code)))
    demo = demo_enterprise_codes()
    return DemoState(demo_enterprises=len(codes & demo), other_enterprises=sorted(codes - demo))


def load_demo_park(session: Session, *, engine: Engine | None = None,
                   settings: Settings | None = None, now: datetime | None = None,
                   operator_key: tuple[str, int] | None = None) -> str:
    """Create the demo park and return its operator key: ``operator_key`` (key, id) when given
    (an active key from an earlier start), else a new one. Idempotent: what is stored already
    (enterprises, meters, reading batches, activity, plans) is kept and not sent again.

    Readings run from 1 January of :data:`YEAR` to ``now`` (default: the current time).
    ``engine`` defaults to the session's bind, ``settings`` to the environment's."""
    if engine is None:
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
    if settings is None:
        from app.config import get_settings

        settings = get_settings()
    if operator_key is not None:
        key, key_id = operator_key
    else:
        key = create_api_key(session, "operator", label="demo")
        session.commit()
        found = session.scalar(select(ApiKey.id).where(ApiKey.label == "demo")
                               .order_by(ApiKey.id.desc()))
        assert found is not None
        key_id = found
    ctx = DemoContext(session=session, engine=engine, settings=settings,
                      principal=Principal(key_id=key_id, role="operator"),
                      rng=np.random.default_rng(SEED), end=demo_end(now))
    for loader in DEMO_LOADERS:
        loader(ctx)
    ctx.settle()  # figures complete before the service answers
    return key


# --- storage station ---------------------------------------------------------------------------
STORAGE_CODE = "ETDZ-BESS-01"
STORAGE_TELEMETRY_DAYS = 7
"""Telemetry for the week before the demo is loaded; day-ahead plans for that week, today and
tomorrow (seasonal-naive inputs from the demo readings)."""
STORAGE_HOT_SPELL_DAY, STORAGE_HOT_SPELL = 3, ("14:00", "14:30")
"""A simulated HVAC fault on the week's fourth day: enclosure at 46-47 degC, which opens a
storage_safety alert."""


def storage_days(end: pd.Timestamp) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """(plan days, telemetry days) for a demo loaded at ``end``."""
    today = end.tz_convert(TZ).normalize().tz_localize(None)
    telemetry = pd.date_range(today - pd.Timedelta(days=STORAGE_TELEMETRY_DAYS),
                              periods=STORAGE_TELEMETRY_DAYS, freq="D")
    return pd.date_range(telemetry[0], today + pd.Timedelta(days=1), freq="D"), telemetry


def load_storage_station(ctx: DemoContext) -> None:
    """The 63 MW / 252 MWh station (default spec), day-ahead plans for the demo period, and
    telemetry following the plans (with one hot spell) through the meters' ingest path."""
    from app.models import StorageAsset
    from app.repositories import storage as storage_repo
    from app.schemas.storage import StorageIn
    from app.services import storage as storage_svc
    from app.services.storage_ops import safety_check, telemetry_batch

    session = ctx.session
    plan_days, telemetry_days = storage_days(ctx.end)
    asset = session.scalar(select(StorageAsset).where(StorageAsset.code == STORAGE_CODE))
    if asset is not None:
        return  # loaded before: the job publishes the plans from here on
    asset = storage_svc.register_station(session, StorageIn(
        code=STORAGE_CODE, name="经开区 63 MW / 252 MWh 储能电站", zone="B区",
        commissioned_on=telemetry_days[0].date()))
    session.commit()
    # Published "the afternoon before" each day: seasonal-naive inputs (the week-ago readings).
    plans = []
    for day in plan_days:
        plan = storage_repo.current_plan(session, asset.id, day.date())
        if plan is None:
            plan = storage_svc.publish_plan(
                session, asset, day.date(), now=datetime.now(UTC),
                max_steps=ctx.settings.storage_max_steps, forecast="seasonal_naive")
        plans.append(plan)
    session.commit()
    energy_mwh = storage_svc.station_battery(asset).energy_mwh
    frames = []
    for plan in plans:
        if pd.Timestamp(plan.day) not in telemetry_days:
            continue
        sched = storage_svc.plan_schedule_frame(plan)
        n = len(sched)
        local = sched.index.tz_convert(PARK_TZ)
        hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
        temp = 22.0 + 3.0 * np.sin(2 * np.pi * (hour - 9.0) / 24.0) + ctx.rng.normal(0, 0.3, n)
        hot_day = f"{telemetry_days[STORAGE_HOT_SPELL_DAY]:%Y-%m-%d}"
        hot = (local >= pd.Timestamp(f"{hot_day} {STORAGE_HOT_SPELL[0]}", tz=TZ)) & (
            local < pd.Timestamp(f"{hot_day} {STORAGE_HOT_SPELL[1]}", tz=TZ))
        temp = np.where(hot, 46.5, temp)
        power = (sched["discharge_mw"] - sched["charge_mw"]).to_numpy()
        frames.append(pd.DataFrame({
            "ts": local.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "power_mw": np.round(power * ctx.rng.normal(1.0, 0.01, n), 3).astype(str),
            "soc_pct": np.round(100.0 * sched["soc_mwh"].to_numpy() / energy_mwh, 2).astype(str),
            "temperature_c": np.round(temp, 2).astype(str),
        }))
    tag = f"storage-{telemetry_days[0]:%Y%m%d}"
    if not frames or batch_loaded(ctx, tag):
        return
    rows = pd.concat(frames, ignore_index=True)
    raw, _rows, _cols = telemetry_batch(STORAGE_CODE, rows)
    ingest_frame(ctx.ingest_context, ctx.principal, raw, content_type="demo",
                 payload_sha256=digest(tag))
    start = pd.Timestamp(telemetry_days[0], tz=TZ)
    safety_check(session, asset, start.to_pydatetime(),
                 (start + pd.Timedelta(days=len(telemetry_days))).to_pydatetime())
    session.commit()


DEMO_LOADERS.append(load_storage_station)
DEMO_LOADERS.append(demo_vpp.load_vpp_demo)  # after the station: plans use its day-ahead plans


def add_demo_readings(engine: Engine, settings: Settings, now: datetime | None = None,
                      store: ReadingsStore | None = None) -> int:
    """The demo job (``serve --demo``, every 15 minutes): the demo meters' readings from their
    latest stored ones up to ``now``, the same values a load at ``now`` would have sent.
    Idempotent: a second run finds nothing missing. Returns the number of batches sent.
    ``store``: the scheduler's readings store (detected when not given)."""
    with Session(engine) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.label == "demo",
                                                        ApiKey.role == "operator")
                                .order_by(ApiKey.id))
        if key_id is None or session.scalar(select(Meter.id).where(
                Meter.code == f"{ENTERPRISES[0][0]}-{ENTERPRISES[0][4][0][0]}")) is None:
            return 0  # no demo park in this database
        ctx = DemoContext(session=session, engine=engine, settings=settings,
                          principal=Principal(key_id=key_id, role="operator"),
                          rng=np.random.default_rng(SEED), end=demo_end(now), store=store)
        from app.models.readings import IngestBatch

        before = session.scalar(select(func.count()).select_from(IngestBatch))
        load_readings(ctx)
        demo_pv.fill_pv(ctx)
        ctx.settle()
        return int(session.scalar(select(func.count()).select_from(IngestBatch)) - before)

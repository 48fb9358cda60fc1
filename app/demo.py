"""A small demo park: ~8 enterprises in the 4 zones, meters of several carriers and the year 2026
of deterministic synthetic 15-minute readings (numpy, seeded).

Extend it by appending a loader to :data:`DEMO_LOADERS`: ``loader(ctx: DemoContext) -> None``
(e.g. PV arrays, storage, value added). Each loader sees the enterprises and meters created before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.auth import Principal, create_api_key
from app.config import Settings
from app.models import ApiKey, Enterprise, Meter
from app.services import carbon_demo
from app.services.ingest import RawBatch
from app.services.readings import IngestContext, ingest_frame
from energy.units import carrier_spec

YEAR = 2026
SEED = 20260101

# code, name, zone, industry, meters: (carrier, mean per 15 min in canonical unit, daily shape)
ENTERPRISES: list[tuple[str, str, str, str, list[tuple[str, float, str]]]] = [
    ("QZ-WATER", "西藏高原天然水有限公司", "A区", "beverages",
     [("electricity_import", 180.0, "day"), ("water", 6.0, "day"), ("steam", 0.8, "day")]),
    ("LS-PHARMA", "拉萨藏药制药有限公司", "A区", "pharmaceuticals",
     [("electricity_import", 120.0, "day"), ("steam", 1.2, "day"), ("natural_gas", 40.0, "day")]),
    ("XZ-DATA", "高原算力中心", "B区", "data centre",
     [("electricity_import", 2500.0, "flat"), ("water", 3.0, "flat")]),
    ("GY-BEER", "高原啤酒有限公司", "B区", "brewery",
     [("electricity_import", 220.0, "day"), ("natural_gas", 60.0, "day"), ("water", 9.0, "day")]),
    ("BS-LOGI", "综保区物流有限公司", "综合保税区", "logistics",
     [("electricity_import", 60.0, "day"), ("diesel", 0.02, "day")]),
    ("BS-ELEC", "综保区电子装配有限公司", "综合保税区", "electronics",
     [("electricity_import", 300.0, "day"), ("pv_generation", 80.0, "solar")]),
    ("ND-MATL", "聂当新型建材有限公司", "聂当工业园", "building materials",
     [("electricity_import", 900.0, "day"), ("coal", 0.3, "day"), ("heat", 2.0, "day")]),
    ("ND-METAL", "聂当金属制品有限公司", "聂当工业园", "metal products",
     [("electricity_import", 650.0, "day"), ("lpg", 0.01, "day")]),
]


@dataclass
class DemoContext:
    session: Session
    engine: Engine
    settings: Settings
    principal: Principal
    rng: np.random.Generator
    enterprises: dict[str, Enterprise] = field(default_factory=dict)
    meters: dict[str, Meter] = field(default_factory=dict)


def _shape(kind: str, local: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
    doy = local.day_of_year.to_numpy()
    if kind == "flat":
        base = np.ones(len(local))
    elif kind == "solar":
        # Solar noon near 13:55 local time in Lhasa; a clipped cosine bell, longer days in summer.
        half_day_h = 6.0 + 1.2 * np.sin(2 * np.pi * (doy - 80) / 365.0)
        base = np.clip(np.cos(np.pi / 2 * (hour - 13.9) / half_day_h), 0.0, None) * 2.5
    else:
        work = (hour >= 8) & (hour < 20)
        base = np.where(work, 1.4, 0.6) * np.where(local.day_of_week.to_numpy() >= 5, 0.7, 1.0)
    season = 1.0 + 0.15 * np.cos(2 * np.pi * (doy - 15) / 365.0)  # colder months use more
    noise = rng.normal(1.0, 0.08, len(local)).clip(0.5, 1.5)
    return base * season * noise


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
            meter = ctx.session.scalar(select(Meter).where(Meter.code == mcode))
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
    """One year of 15-minute readings per meter, through the same ingest path as the API."""
    local = pd.date_range(f"{YEAR}-01-01", f"{YEAR + 1}-01-01", freq="15min", inclusive="left",
                          tz="Asia/Shanghai")
    for code, _name, _zone, _industry, meters in ENTERPRISES:
        ingest_series(ctx, {f"{code}-{carrier}": mean * _shape(kind, local, ctx.rng)
                            for carrier, mean, kind in meters}, local, f"{code}-{YEAR}")


def _digest(tag: str) -> str:
    return hashlib.sha256(f"demo-{tag}".encode()).hexdigest()


def batch_loaded(ctx: DemoContext, tag: str) -> bool:
    """Whether the demo batch ``tag`` is stored already (a restart reloads nothing)."""
    from app.models.readings import IngestBatch

    return ctx.session.scalar(select(IngestBatch.id).where(
        IngestBatch.content_type == "demo", IngestBatch.payload_sha256 == _digest(tag))
        .limit(1)) is not None


def ingest_series(ctx: DemoContext, series: dict[str, np.ndarray], local: pd.DatetimeIndex,
                  tag: str) -> bool:
    """Ingest one value array per meter code, all on the interval starts ``local`` (tz-aware),
    as one batch through the API's ingest path; values rounded to 4 decimals. ``tag`` names the
    batch (its digest is that of ``demo-<tag>``); a batch stored already is not sent again.
    Returns whether it was sent."""
    if batch_loaded(ctx, tag):
        return False
    n = len(local)
    # Asia/Shanghai keeps UTC+8 all year (no daylight saving), so the offset is fixed.
    shanghai = local.tz_convert("Asia/Shanghai")
    ts_text = pa.array(shanghai.strftime("%Y-%m-%dT%H:%M:%S+08:00"), type=pa.string())
    codes = list(series)
    raw = RawBatch(
        frame=pd.DataFrame({"row": np.arange(1, n * len(codes) + 1),
                            "meter": pd.Categorical.from_codes(
                                np.repeat(np.arange(len(codes)), n), codes)}),
        ts=pa.chunked_array([ts_text] * len(codes)),
        value=pa.chunked_array([pa.array(np.round(v, 4).astype(str), type=pa.string())
                                for v in series.values()]),
    )
    ictx = IngestContext(engine=ctx.engine, settings=ctx.settings, timescale=_timescale(ctx))
    ingest_frame(ictx, ctx.principal, raw, content_type="demo", payload_sha256=_digest(tag))
    return True


def _timescale(ctx: DemoContext) -> bool:
    from app.db import readings_on_timescale

    with ctx.engine.connect() as conn:
        return readings_on_timescale(conn)


def load_pv(ctx: DemoContext) -> None:
    from app.demo_pv import load_pv_park

    load_pv_park(ctx)


def load_demo_scenarios(ctx: DemoContext) -> None:
    """Queue the example scenarios (simulations/examples) once; the scheduler's worker runs them
    in the background, so GET /v1/scenarios shows them done shortly after start."""
    from app.models.simulations import ScenarioRun
    from app.repositories.scenarios import queue_run
    from simulations.scenario import load_scenario

    examples = Path(__file__).resolve().parents[1] / "simulations" / "examples"
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
    from app.demo_pv import OPS
    from app.services.storage import PARK_OWNER

    return {code for code, *_ in ENTERPRISES} | {OPS[0], PARK_OWNER[0]}


def demo_state(session: Session) -> DemoState:
    """Which enterprises of the demo (and which others) the database holds."""
    codes = set(session.scalars(select(Enterprise.code)))
    demo = demo_enterprise_codes()
    return DemoState(demo_enterprises=len(codes & demo), other_enterprises=sorted(codes - demo))


def load_demo_park(session: Session, *, engine: Engine | None = None,
                   settings: Settings | None = None) -> str:
    """Create the demo park and return a new operator key. Idempotent: what is stored already
    (enterprises, meters, reading batches, activity, plans) is kept and not sent again.

    ``engine`` defaults to the session's bind, ``settings`` to the environment's."""
    if engine is None:
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
    if settings is None:
        from app.config import get_settings

        settings = get_settings()
    key = create_api_key(session, "operator", label="demo")
    session.commit()
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.label == "demo")
                            .order_by(ApiKey.id.desc()))
    assert key_id is not None
    ctx = DemoContext(session=session, engine=engine, settings=settings,
                      principal=Principal(key_id=key_id, role="operator"),
                      rng=np.random.default_rng(SEED))
    for loader in DEMO_LOADERS:
        loader(ctx)
    return key


# --- storage station (issue 7) ---------------------------------------------------------------
STORAGE_CODE = "ETDZ-BESS-01"
STORAGE_PLAN_DAYS = pd.date_range(f"{YEAR}-11-20", f"{YEAR}-12-03", freq="D")
"""Days with a published day-ahead plan (seasonal-naive inputs from the demo readings)."""
STORAGE_TELEMETRY_DAYS = pd.date_range(f"{YEAR}-11-20", f"{YEAR}-11-26", freq="D")
STORAGE_HOT_SPELL = (f"{YEAR}-11-23T14:00:00+08:00", f"{YEAR}-11-23T14:30:00+08:00")
"""A simulated HVAC fault: enclosure at 46-47 degC, which opens a storage_safety alert."""


def load_storage_station(ctx: DemoContext) -> None:
    """The 63 MW / 252 MWh station (default spec), day-ahead plans for the demo period, and
    telemetry following the plans (with one hot spell) through the meters' ingest path."""
    from datetime import UTC, datetime

    from app.models import StorageAsset
    from app.repositories import storage as storage_repo
    from app.schemas_storage import StorageIn
    from app.services import storage as storage_svc
    from app.services.storage_ops import safety_check, telemetry_batch

    session = ctx.session
    asset = session.scalar(select(StorageAsset).where(StorageAsset.code == STORAGE_CODE))
    if asset is None:
        asset = storage_svc.register_station(session, StorageIn(
            code=STORAGE_CODE, name="经开区 63 MW / 252 MWh 储能电站", zone="B区",
            commissioned_on=STORAGE_TELEMETRY_DAYS[0].date()))
        session.commit()
    # Published "the afternoon before" each day: seasonal-naive inputs (the week-ago readings).
    plans = []
    for day in STORAGE_PLAN_DAYS:
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
        if pd.Timestamp(plan.day) not in STORAGE_TELEMETRY_DAYS:
            continue
        sched = storage_svc.plan_schedule_frame(plan)
        n = len(sched)
        local = sched.index.tz_convert("Asia/Shanghai")
        hour = local.hour.to_numpy() + local.minute.to_numpy() / 60.0
        temp = 22.0 + 3.0 * np.sin(2 * np.pi * (hour - 9.0) / 24.0) + ctx.rng.normal(0, 0.3, n)
        hot = (sched.index >= pd.Timestamp(STORAGE_HOT_SPELL[0])) & (
            sched.index < pd.Timestamp(STORAGE_HOT_SPELL[1]))
        temp = np.where(hot, 46.5, temp)
        power = (sched["discharge_mw"] - sched["charge_mw"]).to_numpy()
        frames.append(pd.DataFrame({
            "ts": local.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "power_mw": np.round(power * ctx.rng.normal(1.0, 0.01, n), 3).astype(str),
            "soc_pct": np.round(100.0 * sched["soc_mwh"].to_numpy() / energy_mwh, 2).astype(str),
            "temperature_c": np.round(temp, 2).astype(str),
        }))
    tag = f"storage-{YEAR}"
    if not frames or batch_loaded(ctx, tag):
        return
    rows = pd.concat(frames, ignore_index=True)
    raw, _rows, _cols = telemetry_batch(STORAGE_CODE, rows)
    ictx = IngestContext(engine=ctx.engine, settings=ctx.settings, timescale=_timescale(ctx))
    ingest_frame(ictx, ctx.principal, raw, content_type="demo", payload_sha256=_digest(tag))
    start = pd.Timestamp(STORAGE_TELEMETRY_DAYS[0], tz="Asia/Shanghai")
    safety_check(session, asset, start.to_pydatetime(),
                 (start + pd.Timedelta(days=len(STORAGE_TELEMETRY_DAYS))).to_pydatetime())
    session.commit()


DEMO_LOADERS.append(load_storage_station)

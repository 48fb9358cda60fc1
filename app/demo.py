"""A small demo park: ~8 enterprises in the 4 zones, meters of several carriers and the year 2026
of deterministic synthetic 15-minute readings (numpy, seeded).

Extend it by appending a loader to :data:`DEMO_LOADERS`: ``loader(ctx: DemoContext) -> None``
(e.g. PV arrays, storage, value added). Each loader sees the enterprises and meters created before.
"""

from __future__ import annotations

import contextlib
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.auth import Principal, create_api_key
from app.config import Settings
from app.models import ApiKey, Enterprise, Meter
from app.repositories.readings_store import ReadingsStore, readings_store
from app.services import carbon_demo
from app.services.ingest import RawBatch
from app.services.readings import IngestContext, ingest_frame
from energy.units import carrier_spec

YEAR = 2026
"""The demo's history starts on 1 January of this year and runs to the moment it is loaded."""
SEED = 20260101
TZ = "Asia/Shanghai"
START = pd.Timestamp(f"{YEAR}-01-01", tz=TZ)
STEP = pd.Timedelta(minutes=15)


def demo_end(now: datetime | None = None) -> pd.Timestamp:
    """End (exclusive) of the demo's readings: the last quarter-hour boundary at or before
    ``now`` (default: the current time), in Asia/Shanghai."""
    t = pd.Timestamp(now if now is not None else datetime.now(UTC))
    if t.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return t.tz_convert(TZ).floor("15min")


def steady_values(key: str, local: pd.DatetimeIndex, make: Callable[[pd.DatetimeIndex,
                  np.random.Generator], np.ndarray]) -> np.ndarray:
    """Values of one demo series on the interval starts ``local``, each depending only on
    (``key``, calendar year, time): ``make`` draws a whole year with a generator seeded by both,
    so a value is the same whether loaded at start or added later by the demo job."""
    out = np.empty(len(local))
    years = local.tz_convert(TZ).year.to_numpy()
    for year in np.unique(years):
        full = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="15min",
                             inclusive="left", tz=TZ)
        rng = np.random.default_rng([SEED, int(year), zlib.crc32(key.encode())])
        values = make(full, rng)
        mask = years == year
        out[mask] = values[full.get_indexer(local[mask])]
    return out

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
    end: pd.Timestamp = field(default_factory=demo_end)
    """Readings stop here (exclusive): the moment the demo is loaded."""
    store: ReadingsStore | None = None
    """The readings store (detected from the database when not given)."""
    _ingest: IngestContext | None = None

    def __post_init__(self) -> None:
        if self.store is None:
            self.store = readings_store(self.engine)

    @property
    def ingest_context(self) -> IngestContext:
        """One ingest context for the whole load: on TimescaleDB its single refresher thread
        refreshes the aggregates batch after batch (never two refreshes at once)."""
        if self._ingest is None:
            assert self.store is not None
            self._ingest = IngestContext(engine=self.engine, settings=self.settings,
                                         store=self.store)
        return self._ingest

    def settle(self) -> None:
        """Wait for the aggregate refreshes of every batch sent (TimescaleDB)."""
        if self._ingest is not None and self._ingest.refresher is not None:
            # a failed refresh is logged by the refresher; the hourly policy catches up
            with contextlib.suppress(Exception):
                self._ingest.refresher.wait()


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


def missing_range(ctx: DemoContext, codes: list[str]) -> pd.DatetimeIndex:
    """Interval starts from the earliest of ``codes``' latest stored readings (or the demo's
    start) up to ``ctx.end``: what a (re)start or the demo job has to add."""
    from app.repositories.readings import last_starts

    meters = ctx.session.scalars(select(Meter).where(Meter.code.in_(codes))).all()
    with ctx.engine.connect() as conn:
        last = last_starts(conn, [m.id for m in meters])
    if len(last) < len(codes):
        first = START
    else:
        first = max(START, pd.Timestamp(min(last.values())).tz_convert(TZ) + STEP)
    return pd.date_range(first, max(first, ctx.end), freq="15min", inclusive="left")


def _stamp(local: pd.DatetimeIndex) -> str:
    return f"{local[0]:%Y%m%dT%H%M}-{local[-1]:%Y%m%dT%H%M}"


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
                                 lambda full, rng, m=mean, k=kind: m * _shape(k, full, rng))
            for mcode, (_carrier, mean, kind) in zip(codes, meters, strict=True)},
            local, f"{code}-{_stamp(local)}")


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
    # Readings beyond the service's upload window (now + its clock tolerance) would be refused
    # as future readings: a demo asked to run past the present stops there.
    latest = pd.Timestamp.now(tz="UTC") + pd.Timedelta(
        hours=ctx.settings.upload_future_tolerance_hours)
    keep = np.asarray(local <= latest)
    if not keep.any():
        return False
    if not keep.all():
        local = local[keep]
        series = {code: np.asarray(v)[keep] for code, v in series.items()}
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
    ingest_frame(ctx.ingest_context, ctx.principal, raw, content_type="demo",
                 payload_sha256=_digest(tag))
    return True


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
                   settings: Settings | None = None, now: datetime | None = None) -> str:
    """Create the demo park and return a new operator key. Idempotent: what is stored already
    (enterprises, meters, reading batches, activity, plans) is kept and not sent again.

    Readings run from 1 January of :data:`YEAR` to ``now`` (default: the current time).
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
        local = sched.index.tz_convert("Asia/Shanghai")
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
                 payload_sha256=_digest(tag))
    start = pd.Timestamp(telemetry_days[0], tz=TZ)
    safety_check(session, asset, start.to_pydatetime(),
                 (start + pd.Timedelta(days=len(telemetry_days))).to_pydatetime())
    session.commit()


DEMO_LOADERS.append(load_storage_station)


def add_demo_readings(engine: Engine, settings: Settings, now: datetime | None = None) -> int:
    """The demo job (``serve --demo``, every 15 minutes): the demo meters' readings from their
    latest stored ones up to ``now``, the same values a load at ``now`` would have sent.
    Idempotent: a second run finds nothing missing. Returns the number of batches sent."""
    from app.demo_pv import fill_pv

    with Session(engine) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.label == "demo",
                                                        ApiKey.role == "operator")
                                .order_by(ApiKey.id))
        if key_id is None or session.scalar(select(Meter.id).where(
                Meter.code == f"{ENTERPRISES[0][0]}-{ENTERPRISES[0][4][0][0]}")) is None:
            return 0  # no demo park in this database
        ctx = DemoContext(session=session, engine=engine, settings=settings,
                          principal=Principal(key_id=key_id, role="operator"),
                          rng=np.random.default_rng(SEED), end=demo_end(now))
        from app.models.readings import IngestBatch

        before = session.scalar(select(func.count()).select_from(IngestBatch))
        load_readings(ctx)
        fill_pv(ctx)
        ctx.settle()
        return int(session.scalar(select(func.count()).select_from(IngestBatch)) - before)

"""What every demo loader shares: the demo's calendar and seed, its enterprises and meters,
the load context, the daily shapes, and sending a series through the API's ingest path."""

from __future__ import annotations

import contextlib
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.auth import Principal
from app.config import Settings
from app.models import Enterprise, Meter
from app.repositories.readings_store import ReadingsStore, readings_store
from app.services.ingest import RawBatch
from app.services.readings import IngestContext, ingest_frame
from energy.site import PARK_TZ

YEAR = 2026
"""The demo's history starts on 1 January of this year and runs to the moment it is loaded."""
SEED = 20260101
TZ = PARK_TZ
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


def daily_shape(kind: str, local: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
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


def stamp(local: pd.DatetimeIndex) -> str:
    return f"{local[0]:%Y%m%dT%H%M}-{local[-1]:%Y%m%dT%H%M}"


def digest(tag: str) -> str:
    return hashlib.sha256(f"demo-{tag}".encode()).hexdigest()


def batch_loaded(ctx: DemoContext, tag: str) -> bool:
    """Whether the demo batch ``tag`` is stored already (a restart reloads nothing)."""
    from app.models.readings import IngestBatch

    return ctx.session.scalar(select(IngestBatch.id).where(
        IngestBatch.content_type == "demo", IngestBatch.payload_sha256 == digest(tag))
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
    shanghai = local.tz_convert(PARK_TZ)
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
                 payload_sha256=digest(tag))
    return True

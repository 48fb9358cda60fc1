"""Demo park, carbon part: 2025 (base-year) readings, value added for 2025 and 2026, green
certificates and green-power trades (as instruments), process CO2 and guiding-indicator data
(app/data/carbon_demo.yaml, illustrative figures), then closes the demo year's last ended month
(as the monthly job would), so every indicator has a target and a phase status."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sqlalchemy import select

from app.demo.common import ENTERPRISES, DemoContext, daily_shape, ingest_series
from app.models import Meter
from app.models.carbon import ActivityBatch
from app.problems import Problem
from app.services.carbon_activity import record_activity
from app.services.carbon_instruments import record_instruments
from app.services.carbon_periods import parse_period
from energy.site import PARK_TZ
from energy.units import carrier_spec

log = logging.getLogger(__name__)



def demo_data() -> dict[str, Any]:
    text = resources.files("app.data").joinpath("carbon_demo.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _base_year_readings(ctx: DemoContext, year: int, scale: float) -> None:
    """Base-year energy as daily totals (utility bills) on one daily meter per carrier and
    enterprise (``<meter>-daily``): the same shapes as the demo year, scaled; through ingest."""
    local = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="15min", inclusive="left",
                          tz=PARK_TZ)
    days = pd.date_range(f"{year}-01-01", periods=len(local) // 96, freq="D")
    rng = np.random.default_rng(year)
    frames: list[tuple[str, np.ndarray]] = []
    for code, name, _zone, _industry, meters in ENTERPRISES:
        ent = ctx.enterprises[code]
        for carrier, mean, kind in meters:
            mcode = f"{code}-{carrier}-daily"
            if mcode not in ctx.meters:
                spec = carrier_spec(carrier)
                meter = ctx.session.scalar(select(Meter).where(
                    Meter.code == mcode, Meter.enterprise_id == ent.id))
                if meter is None:
                    meter = Meter(code=mcode, enterprise_id=ent.id, carrier=carrier,
                                  unit=spec.canonical_unit, canonical_unit=spec.canonical_unit,
                                  register="interval", interval_minutes=1440,
                                  green_direct_supply=False,
                                  name=f"{name} {spec.label_zh}（{year}年日账单）")
                    ctx.session.add(meter)
                    ctx.session.flush()
                ctx.meters[mcode] = meter
            quarter_hours = mean * scale * daily_shape(kind, local, rng)
            frames.append((mcode, np.round(quarter_hours.reshape(-1, 96).sum(axis=1), 4)))
    ctx.session.commit()
    ingest_series(ctx, dict(frames), days.tz_localize(PARK_TZ), f"carbon-base-{year}")


INSTRUMENT_KIND = {"green_certificates_mwh": "gec", "green_power_trades_mwh": "green_power_trade",
                   "direct_green_supply_mwh": "direct_supply"}


def _instruments(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The demo's green-electricity amounts as instruments (one per enterprise, kind, month)."""
    return [{"id": f"DEMO-{r['enterprise']}-{INSTRUMENT_KIND[r['quantity']]}-{r['period']}",
             "kind": INSTRUMENT_KIND[r["quantity"]], "enterprise": r["enterprise"],
             "period": r["period"], "mwh": r["value"], "source": "demo park (illustrative)"}
            for r in _all_records(data) if r["quantity"] in INSTRUMENT_KIND]


def _records(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Activity records (green electricity goes to `_instruments`)."""
    return [r for r in _all_records(data) if r["quantity"] not in INSTRUMENT_KIND]


def _all_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for code, ent in data["enterprises"].items():
        for period, quantities in ent.items():
            for quantity, value in quantities.items():
                if quantity.endswith("_monthly"):  # a yearly total spread evenly over months
                    q = quantity.removesuffix("_monthly")
                    year = int(period)
                    parts = [round(value / 12, 3)] * 11
                    parts.append(round(value - sum(parts), 3))  # the months add up exactly
                    out += [{"enterprise": code, "period": f"{year}-{m:02d}", "quantity": q,
                             "value": v} for m, v in zip(range(1, 13), parts, strict=True)]
                else:
                    out.append({"enterprise": code, "period": str(period), "quantity": quantity,
                                "value": value})
    return out


def load_carbon_base_year(ctx: DemoContext) -> None:
    """Runs before the demo year's readings, so on TimescaleDB the older data need no catch-up
    refresh before they are readable."""
    data = demo_data()
    _base_year_readings(ctx, int(data["base_year"]), float(data["base_year_energy_scale"]))


def load_carbon_demo(ctx: DemoContext) -> None:
    from app.services.carbon import close_period

    data = demo_data()
    t1 = time.perf_counter()
    body = json.dumps(_records(data)).encode()
    digest = hashlib.sha256(body).hexdigest()
    if ctx.session.scalar(select(ActivityBatch.id).where(
            ActivityBatch.payload_sha256 == digest).limit(1)) is None:
        try:
            record_activity(ctx.engine, ctx.principal, body, "application/json")
        except Problem as exc:  # an older demo's months are closed: they stay as they are
            if exc.status != 409:
                raise
            log.info("carbon demo: activity of closed months kept as it is")
    try:  # the same instruments again change nothing (ids are claimed once, content-idempotent)
        record_instruments(ctx.engine, ctx.principal, json.dumps(_instruments(data)).encode(),
                           "application/json")
    except Problem as exc:
        if exc.status != 409:
            raise
        log.info("carbon demo: instruments stored already")
    t2 = time.perf_counter()
    today = datetime.now(UTC).date()
    ended = [m for m in parse_period(str(data["close_year"])).month_labels()
             if parse_period(m).end <= today]
    if ended:  # like the monthly job: the last month that has ended (one forced refresh)
        try:
            close_period(ctx.engine, ended[-1], api_key_id=ctx.principal.key_id, actor="demo",
                         store=ctx.store)
        except Exception as exc:  # closed already (demo loaded twice)
            if getattr(exc, "status", None) != 409:
                raise
    log.info("carbon demo: activity %.1f s, closing %.1f s", t2 - t1, time.perf_counter() - t2)

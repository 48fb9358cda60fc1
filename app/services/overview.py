"""The dashboard's one-screen overview (一图统览), assembled from rollups in one answer.

Definitions (all energy in kWh unless the name says otherwise):
- ``grid_import_kwh``: Σ electricity_import meters; ``grid_export_kwh``: Σ electricity_export;
  ``pv_kwh``: Σ pv_generation meters (rooftop PV, behind the enterprises' import meters);
- ``load_kwh`` = grid_import + pv − grid_export (electricity the park consumed);
- ``energy_tce``: every carrier converted with the standard-coal coefficients of the carbon
  library's factor set (GB/T 2589, electricity at its equivalent value), the set named in
  ``factor_set``; exports count negative, as in the carbon ledger.
Buckets are Asia/Shanghai hours (period ``day``), days (``week``, ``month``) or months (``year``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.auth import Principal
from app.models import Enterprise
from app.problems import invalid
from app.repositories import core as core_repo
from app.repositories import overview as repo
from app.repositories.overview import Bucket
from app.repositories.readings_store import ReadingsStore
from app.services.answer_cache import remembered
from energy.balance import site_load
from energy.site import PARK_TZ, PARK_ZONE
from energy.units import CARRIERS

Period = Literal["day", "week", "month", "year"]
PERIODS: tuple[str, ...] = ("day", "week", "month", "year")
TZ = PARK_ZONE
ELECTRICITY = {"electricity_import": "grid_import_kwh", "electricity_export": "grid_export_kwh",
               "pv_generation": "pv_kwh"}


@dataclass(frozen=True)
class Window:
    """A period's [start, end) in Asia/Shanghai and its bucket size."""

    period: str
    start: datetime
    end: datetime
    bucket: Bucket

    def buckets(self) -> list[datetime]:
        """Every bucket start in the window, in order."""
        out: list[datetime] = []
        t = self.start
        while t < self.end:
            out.append(t)
            t = _next_bucket(t, self.bucket)
        return out


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ)


def _next_bucket(t: datetime, bucket: Bucket) -> datetime:
    if bucket == "hour":
        return t + timedelta(hours=1)
    if bucket == "day":
        return _midnight(t.date() + timedelta(days=1))
    return _midnight(date(t.year + (t.month == 12), t.month % 12 + 1, 1))


def period_window(period: str, day: date) -> Window:
    """The day, ISO week (Monday first), calendar month or calendar year holding ``day``."""
    if period == "day":
        return Window(period, _midnight(day), _midnight(day + timedelta(days=1)), "hour")
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return Window(period, _midnight(monday), _midnight(monday + timedelta(days=7)), "day")
    if period == "month":
        first = day.replace(day=1)
        return Window(period, _midnight(first), _next_bucket(_midnight(first), "month"), "day")
    if period == "year":
        return Window(period, _midnight(date(day.year, 1, 1)),
                      _midnight(date(day.year + 1, 1, 1)), "month")
    raise invalid("period", "unknown period", f"period must be one of {', '.join(PERIODS)}.")


@lru_cache
def tce_coefficients() -> tuple[str, dict[str, float]]:
    """(factor-set version, tce per canonical unit of each meter carrier), read off one carbon
    ledger of 1,000 units of every carrier so the dashboard converts exactly as the ledger does."""
    from carbon import Activity, compute_ledger
    from carbon.inputs import ENERGY_INPUTS

    quantity = 1000.0
    keys = {c: f"{c}_{spec.canonical_unit.lower()}" for c, spec in CARRIERS.items()}
    keys = {c: k for c, k in keys.items() if k in ENERGY_INPUTS}
    ledger = compute_ledger({k: quantity for k in keys.values()}, Activity(), period="2026",
                            scope="park", code="coefficients").to_dict()
    coef = {c: float(ledger["energy_by_carrier"].get(c, {}).get("tce", 0.0)) / quantity
            for c in keys}
    return str(ledger["factor_set"]), coef


@dataclass(frozen=True)
class MeterInfo:
    id: int
    code: str
    name: str | None
    carrier: str
    unit: str
    enterprise: str


def _meters(session: Session, principal: Principal,
            enterprise: Enterprise | None = None) -> dict[int, MeterInfo]:
    own = principal.enterprise_id if principal.role == "enterprise" else None
    if enterprise is not None and own is not None and enterprise.id != own:
        return {}
    rows = repo.summable_meters(session, enterprise.id if enterprise is not None else own)
    return {r[0]: MeterInfo(*r) for r in rows}


def _electricity(by_carrier: dict[str, float]) -> dict[str, float]:
    out = {name: by_carrier.get(c, 0.0) for c, name in ELECTRICITY.items()}
    out["load_kwh"] = site_load(out["grid_import_kwh"], out["pv_kwh"], out["grid_export_kwh"])
    return out


def _tce(by_carrier: dict[str, float]) -> float:
    coef = tce_coefficients()[1]
    return sum(v * coef.get(c, 0.0) for c, v in by_carrier.items())


def _sum_by(rows: Iterable[tuple[datetime, int, float, int, int]], meters: dict[int, MeterInfo],
            key: Any) -> dict[Any, dict[str, float]]:
    """{key(bucket, meter): {carrier: sum}} over rows of known meters."""
    out: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for b, mid, value, _n, _f in rows:
        m = meters.get(mid)
        if m is not None:
            out[key(b, m)][m.carrier] += value
    return out


def _tile(window_start: datetime, window_end: datetime,
          by_carrier: dict[str, float]) -> dict[str, Any]:
    return {"start": window_start, "end": window_end, **_electricity(by_carrier),
            "pv_expected_kwh": None, "energy_tce": _tce(by_carrier)}


def build_overview(session: Session, principal: Principal, period: str, day: date, *,
                   store: ReadingsStore, modules: dict[str, bool]) -> dict[str, Any]:
    """Everything the first screen shows, for the caller's scope (an enterprise: itself). The
    part read from rollups, meters and enterprises is remembered per data version
    (:mod:`app.services.answer_cache`); the open alerts are counted on every call."""
    window = period_window(period, day)
    conn = session.connection()
    scope_id = principal.enterprise_id if principal.role == "enterprise" else None
    scope = (principal.role, scope_id, principal.enterprise_code)
    answer = remembered(conn, ("overview", scope, period, day), lambda: _from_rollups(
        session, principal, window, day, store=store), store=store)
    answer["alerts"] = {"open": repo.open_alert_count(conn, scope_id)}
    answer["modules"] = modules
    return answer


def _from_rollups(session: Session, principal: Principal, window: Window, day: date, *,
                  store: ReadingsStore) -> dict[str, Any]:
    period = window.period
    conn = session.connection()
    scope_id = principal.enterprise_id if principal.role == "enterprise" else None
    meters = _meters(session, principal)
    enterprises = {e.code: e for e in core_repo.list_enterprises(session, principal)}

    month = period_window("month", day)
    month_rows = store.meter_bucket_sums(conn, month.start, month.end, "day",
                                         enterprise_id=scope_id)
    rows = month_rows if period == "month" else store.meter_bucket_sums(
        conn, window.start, window.end, window.bucket, enterprise_id=scope_id)

    today = _midnight(day)
    month_total = _sum_by(month_rows, meters, lambda b, m: "all").get("all", {})
    today_total = _sum_by((r for r in month_rows if r[0] == today), meters,
                          lambda b, m: "all").get("all", {})

    buckets = window.buckets()
    index = {b: i for i, b in enumerate(buckets)}
    per_bucket = _sum_by(rows, meters, lambda b, m: b)
    balance = []
    for b in buckets:
        point = {"start": b, **_electricity(per_bucket.get(b, {}))}
        point["energy_tce"] = _tce(per_bucket.get(b, {}))
        balance.append(point)
    totals_by_carrier = _sum_by(rows, meters, lambda b, m: "all").get("all", {})

    per_ent_bucket = _sum_by(rows, meters, lambda b, m: (m.enterprise, b))
    flagged: dict[str, int] = defaultdict(int)
    for _b, mid, _v, _n, f in rows:
        if mid in meters:
            flagged[meters[mid].enterprise] += f
    ent_rows = []
    for code, ent in enterprises.items():
        series_tce = [0.0] * len(buckets)
        series_kwh = [0.0] * len(buckets)
        carriers: dict[str, float] = defaultdict(float)
        for b, i in index.items():
            by_carrier = per_ent_bucket.get((code, b))
            if by_carrier:
                series_tce[i] = _tce(by_carrier)
                series_kwh[i] = _electricity(by_carrier)["load_kwh"]
                for c, v in by_carrier.items():
                    carriers[c] += v
        ent_rows.append({"code": code, "name": ent.name, "zone": ent.zone,
                         "industry": ent.industry, "energy_tce": sum(series_tce),
                         "electricity_kwh": sum(series_kwh), "series_tce": series_tce,
                         "series_electricity_kwh": series_kwh,
                         "flagged_readings": flagged.get(code, 0)})
    total_tce = sum(e["energy_tce"] for e in ent_rows)
    zones: dict[str, dict[str, Any]] = {}
    for e in ent_rows:
        z = zones.setdefault(e["zone"], {"zone": e["zone"], "energy_tce": 0.0,
                                         "electricity_kwh": 0.0, "enterprises": 0,
                                         "series_tce": [0.0] * len(buckets)})
        z["energy_tce"] += e["energy_tce"]
        z["electricity_kwh"] += e["electricity_kwh"]
        z["enterprises"] += 1
        z["series_tce"] = [a + b for a, b in zip(z["series_tce"], e["series_tce"], strict=True)]
    for item in [*ent_rows, *zones.values()]:
        item["share_pct"] = 100.0 * item["energy_tce"] / total_tce if total_tce > 0 else None
    ent_rows.sort(key=lambda e: -e["energy_tce"])
    zone_rows = sorted(zones.values(), key=lambda z: -z["energy_tce"])

    factor_set, coef = tce_coefficients()
    units = {m.carrier: m.unit for m in meters.values()}
    mix = sorted(({"carrier": c, "quantity": v, "unit": units.get(c, ""),
                   "energy_tce": v * coef.get(c, 0.0)} for c, v in totals_by_carrier.items()),
                 key=lambda item: -abs(item["energy_tce"]))
    return {
        "period": period, "date": day, "timezone": PARK_TZ,
        "start": window.start, "end": window.end, "bucket": window.bucket,
        "scope": {"role": principal.role, "enterprise": principal.enterprise_code},
        "factor_set": factor_set,
        "tiles": {"today": _tile(today, today + timedelta(days=1), today_total),
                  "month": _tile(month.start, month.end, month_total)},
        "balance": {"points": balance, "totals": {**_electricity(totals_by_carrier),
                                                  "energy_tce": _tce(totals_by_carrier)}},
        "mix": mix,
        "zones": zone_rows,
        "enterprises": ent_rows,
        "alerts": None,
        "modules": None,
        "storage": None,
        "carbon": None,
    }


def enterprise_meters(session: Session, principal: Principal, code: str, period: str,
                      day: date, *, store: ReadingsStore) -> dict[str, Any]:
    """One enterprise's meters with their totals and series over the period (drill-down)."""
    from app.repositories.core import get_enterprise

    ent = get_enterprise(session, principal, code)
    window = period_window(period, day)
    meters = _meters(session, principal, ent)
    rows = store.meter_bucket_sums(session.connection(), window.start, window.end, window.bucket,
                                   enterprise_id=ent.id)
    buckets = window.buckets()
    index = {b: i for i, b in enumerate(buckets)}
    series: dict[int, list[float]] = {mid: [0.0] * len(buckets) for mid in meters}
    flagged: dict[int, int] = defaultdict(int)
    for b, mid, value, _n, f in rows:
        if mid in series and b in index:
            series[mid][index[b]] += value
            flagged[mid] += f
    coef = tce_coefficients()[1]
    out = [{"code": m.code, "name": m.name, "carrier": m.carrier, "unit": m.unit,
            "total": sum(series[mid]), "energy_tce": sum(series[mid]) * coef.get(m.carrier, 0.0),
            "series": series[mid], "flagged_readings": flagged.get(mid, 0)}
           for mid, m in sorted(meters.items(), key=lambda kv: kv[1].code)]
    return {"enterprise": {"code": ent.code, "name": ent.name, "zone": ent.zone,
                           "industry": ent.industry},
            "period": period, "date": day, "start": window.start, "end": window.end,
            "bucket": window.bucket, "buckets": buckets, "meters": out}

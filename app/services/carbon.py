"""Carbon ledgers from stored readings and activity data; closing, reopening, indicators and
target status. The maths is carbon/'s (compute_ledger, compute_indicators, target_status); this
module only gathers inputs (from the day rollups, never raw readings) and keeps provenance.

Activity records of several granularities inside one ledger period: per enterprise and quantity
the coarsest granularity present is used (a year record beats month records of that year, which
are then listed in warnings). Optional quantities (value added, guiding-indicator inputs, COD)
must cover the whole period, else they are None (a partial sum would fake a ratio).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from app.problems import Problem, field_problem, invalid
from app.repositories import carbon as repo
from app.repositories.readings_store import ReadingsStore
from app.services.answer_cache import remembered
from app.services.carbon_periods import Period, parse_period, previous_month
from carbon import (
    ENERGY_INPUTS,
    Activity,
    Holder,
    InputError,
    Instrument,
    Ledger,
    UnknownFactorError,
    combine_activities,
    compute_indicators,
    compute_ledger,
    history_frame,
    load_policy,
    load_targets,
    target_status,
)
from carbon.indicators import null_reasons
from carbon.targets import load_phases
from energy.site import PARK_ZONE

INSTRUMENT_QUANTITIES: frozenset[str] = frozenset(
    ("green_certificates_mwh", "green_power_trades_mwh", "direct_green_supply_mwh"))
"""Former activity quantities: green electricity is recorded as instruments now (ids claimed
once in the park); stored records of these are history and the ledger does not read them."""
ACTIVITY_QUANTITIES: tuple[str, ...] = tuple(
    f.name for f in fields(Activity)
    if f.name != "bunker_fuels" and f.name not in INSTRUMENT_QUANTITIES)
"""Quantities an activity record may carry; the unit is part of the name."""
OPTIONAL_QUANTITIES: frozenset[str] = frozenset(
    f.name for f in fields(Activity) if f.name != "bunker_fuels" and f.default is None)
ENERGY_KEY: dict[tuple[str, str], str] = {cu: k for k, cu in ENERGY_INPUTS.items()}
"""(meter carrier, canonical unit) -> the library's input key, e.g. ('heat', 'GJ') -> heat_gj."""
ENERGY_DECIMALS = 6
"""Energy totals are rounded to 1e-6 of their unit before hashing, so a recomputation whose
floating-point sum order differs still gives the same inputs and hash."""
TARGET_SETS = ("plan", "zero_carbon_park")
MIN_FULL_PERIODS = 3
"""Complete years a trend projection needs (fewer: status insufficient_data)."""
MAX_PROJECTED_CHANGE_PCT = 30.0
"""Largest yearly change a projection may imply (a short steep trend is capped, and says so)."""


@dataclass(frozen=True)
class Entity:
    """Whose ledger: the park (enterprise_id None) or one enterprise."""

    scope: str
    code: str
    enterprise_id: int | None = None


@dataclass
class _Loaded:
    energy: list[dict[str, Any]]
    activity: list[dict[str, Any]]
    batches: dict[int, list[int]] = field(default_factory=dict)
    instruments: list[dict[str, Any]] = field(default_factory=list)
    codes: dict[int, str] = field(default_factory=dict)


def input_hash(ledger: dict[str, Any]) -> str:
    """SHA-256 of everything a ledger is computed from (inputs, factor set, policy, identity)."""
    doc = {k: ledger[k] for k in ("scope", "code", "period", "factor_set", "policy", "inputs")}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def as_ledger(answer: dict[str, Any]) -> Ledger:
    """The library's Ledger back from a ledger answer (live or frozen JSON; fields added later
    take their defaults in ledgers frozen before them)."""
    return Ledger(**{f.name: answer[f.name] for f in fields(Ledger) if f.name in answer})


# ---- gathering -------------------------------------------------------------------------------
def _load(conn: Connection, period: Period, enterprise_id: int | None, *, store: ReadingsStore,
          live_months: list[str], with_batches: bool,
          instrument_months: list[str] | None = None) -> _Loaded:
    """``instrument_months``: months whose instruments come from the table (default: the live
    ones; a month frozen before instruments were frozen with it is added by the caller)."""
    energy = []
    if live_months:
        energy = [r for r in store.energy_by_month(conn, period.start, period.end, enterprise_id)
                  if r["month"] in live_months]
    batches: dict[int, list[int]] = {}
    if with_batches and live_months:
        batches = _reading_batches(conn, live_months, enterprise_id)
    activity = [r for r in repo.activity_records(conn, period.start, period.end, enterprise_id)
                if r["quantity"] not in INSTRUMENT_QUANTITIES]
    inst_months = live_months if instrument_months is None else instrument_months
    instruments = repo.instrument_records(conn, inst_months, enterprise_id) if inst_months \
        else []
    codes = repo.enterprise_codes(conn) if enterprise_id is None else {}
    return _Loaded(energy, activity, batches, instruments, codes)


_BATCH_CACHE_MONTHS = 512
_batch_cache: OrderedDict[tuple[object, ...], dict[int, tuple[int, ...]]] = OrderedDict()
_batch_cache_lock = threading.Lock()


def _month_meter_batches(conn: Connection, month: str, version: tuple[object, ...]
                         ) -> dict[int, tuple[int, ...]]:
    """Per meter, the ingest batches of its readings in ``month``; remembered per readings
    version (:func:`repo.readings_version`, read before the readings), so a repeated ledger
    does not scan the month's raw readings again until an upload commits."""
    key = (*version, month)
    with _batch_cache_lock:
        hit = _batch_cache.get(key)
        if hit is not None:
            _batch_cache.move_to_end(key)
            return hit
    p = parse_period(month)
    found = repo.meter_batches(conn, p.start, p.end)
    with _batch_cache_lock:
        _batch_cache[key] = found
        while len(_batch_cache) > _BATCH_CACHE_MONTHS:
            _batch_cache.popitem(last=False)
    return found


def _reading_batches(conn: Connection, months: list[str], enterprise_id: int | None
                     ) -> dict[int, list[int]]:
    """Per enterprise, the ingest batches of its readings in each of ``months`` (month by
    month, as provenance lists them), of ``enterprise_id``'s meters only when given."""
    version = repo.readings_version(conn)
    owners = repo.meter_enterprises(conn)
    out: dict[int, list[int]] = {}
    for m in months:
        per_ent: dict[int, set[int]] = {}
        for meter_id, ids in _month_meter_batches(conn, m, version).items():
            ent = owners.get(meter_id)
            if enterprise_id is not None and ent != enterprise_id:
                continue
            per_ent.setdefault(ent, set()).update(ids)  # type: ignore[arg-type]
        for ent, ids in per_ent.items():
            out.setdefault(ent, []).extend(sorted(ids))
    return out


def _instrument(d: dict[str, Any]) -> Instrument:
    return Instrument(d["id"], d["kind"], d["enterprise"], d["period"], float(d["mwh"]),
                      d.get("bundled_with"), d.get("source") or "")


ELECTRICITY_KEYS = ("electricity_import_kwh", "electricity_export_kwh", "pv_generation_kwh")


def _activity_values(records: list[dict[str, Any]], period: Period,
                     warnings: list[str]) -> dict[str, float | None]:
    """One enterprise's quantities for the period (coarsest granularity; coverage rule)."""
    by_q: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_q.setdefault(r["quantity"], []).append(r)
    out: dict[str, float | None] = {}
    for q, recs in by_q.items():
        coarsest = max(r["months"] for r in recs)
        chosen = [r for r in recs if r["months"] == coarsest]
        ignored = [r["period"] for r in recs if r["months"] != coarsest]
        who = recs[0]["enterprise"]
        if ignored:
            warnings.append(f"{who} {q}: finer records {ignored} ignored (coarser ones used)")
        covered = sum(r["months"] for r in chosen)
        if q in OPTIONAL_QUANTITIES and covered != period.months:
            warnings.append(f"{who} {q}: records cover {covered} of {period.months} month(s);"
                            " not used")
            out[q] = None
            continue
        out[q] = float(sum(r["value"] for r in chosen))
    return out


def _assemble(entity: Entity, period: Period, data: _Loaded, frozen: dict[str, dict[str, Any]]
              ) -> dict[str, Any]:
    """The ledger answer of one entity from loaded rows (filtered here) and frozen months."""
    ent = entity.enterprise_id
    rows = [r for r in data.energy if ent is None or r["enterprise_id"] == ent]
    energy: dict[str, float] = {}
    green_kwh = 0.0
    # per enterprise code: electricity inputs and green-direct kWh (the park's holders)
    elec: dict[str, dict[str, float]] = {}
    green_by: dict[str, float] = {}
    instruments = [_instrument(d) for d in data.instruments
                   if ent is None or d["enterprise_id"] == ent]
    with_data: set[str] = set()
    meters: set[str] = set()
    readings = flagged = 0
    ignored: set[str] = set()
    enterprises: dict[int, str] = {}
    by_month: dict[str, str] = {}
    for r in rows:
        by_month[r["month"]] = "live"
        key = ENERGY_KEY.get((r["carrier"], r["unit"]))
        if key is None:
            ignored.add(r["carrier"])
            continue
        with_data.add(r["month"])
        energy[key] = energy.get(key, 0.0) + float(r["value"])
        who = data.codes.get(r["enterprise_id"], entity.code)
        if key in ELECTRICITY_KEYS:
            e = elec.setdefault(who, {})
            e[key] = e.get(key, 0.0) + float(r["value"])
        if r["carrier"] == "electricity_import" and r["green_direct_supply"]:
            green_kwh += float(r["value"])
            green_by[who] = green_by.get(who, 0.0) + float(r["value"])
        meters.update(r["meters"])
        readings += int(r["readings"])
        flagged += int(r["flagged"])
        enterprises[r["enterprise_id"]] = ""
    batches = sorted({b for e, ids in data.batches.items() if ent is None or e == ent
                      for b in ids})
    for month, f in sorted(frozen.items()):
        by_month[month] = "closed"
        with_data.update(f["provenance"].get("months_with_data",
                                             [month] if f["inputs"]["energy"] else []))
        for key, v in f["inputs"]["energy"].items():
            energy[key] = energy.get(key, 0.0) + float(v)
        prov = f["provenance"]
        green_kwh += prov["direct_green_metered_kwh"]
        instruments += [_instrument(d) for d in f["inputs"].get("instruments", [])]
        for h in f["inputs"].get("holders", []):
            e = elec.setdefault(h["code"], {})
            for k, v in h["energy"].items():
                e[k] = e.get(k, 0.0) + float(v)
            green_by[h["code"]] = green_by.get(h["code"], 0.0) + h["green_direct_metered_kwh"]
        meters.update(prov["meters"])
        readings += prov["readings"]
        flagged += prov["flagged_readings"]
        batches = sorted(set(batches) | set(prov["reading_batches"]))
        enterprises.update({int(k): "" for k in prov.get("enterprise_ids", [])})
    energy = {k: round(v, ENERGY_DECIMALS) for k, v in sorted(energy.items())}
    green_kwh = round(green_kwh, ENERGY_DECIMALS)

    warnings: list[str] = []
    records = [r for r in data.activity if ent is None or r["enterprise_id"] == ent]
    per_ent: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        per_ent.setdefault(r["enterprise_id"], []).append(r)
        enterprises[r["enterprise_id"]] = ""
    if ent is not None:
        per_ent.setdefault(ent, [])
    activities = [Activity(**_activity_values(per_ent.get(e, []), period, warnings))
                  for e in sorted(per_ent if ent is not None else enterprises)]
    activity = (activities[0] if ent is not None else combine_activities(activities))
    claims: dict[str, Any]
    if ent is not None:
        claims = {"instruments": instruments, "green_direct_metered_kwh": green_kwh}
    else:
        by_code: dict[str, list[Instrument]] = {}
        for i in instruments:
            by_code.setdefault(i.enterprise, []).append(i)
        holders = [Holder(c, {k: round(v, ENERGY_DECIMALS) for k, v in elec.get(c, {}).items()},
                          round(green_by.get(c, 0.0), ENERGY_DECIMALS), by_code.get(c, []))
                   for c in sorted(set(elec) | set(by_code) | set(green_by))]
        claims = {"holders": holders, "green_direct_metered_kwh": green_kwh}
    try:
        led = compute_ledger(energy, activity, period=period.label, scope=entity.scope,
                             code=entity.code, **claims)
    except (InputError, UnknownFactorError) as exc:
        raise field_problem(422, "inconsistent-inputs", "inputs", str(exc),
                            f"The inputs of {entity.code} {period.label} are inconsistent: "
                            f"{exc}") from None
    answer = led.to_dict()
    answer["warnings"] = answer["warnings"] + warnings
    closed = [m for m, s in by_month.items() if s == "closed"]
    answer["status"] = ("closed" if closed and len(frozen) == period.months
                        else "partly_closed" if closed else "open")
    answer["input_hash"] = input_hash(answer)
    answer["provenance"] = {
        "source": "day rollups (meter_days / readings_daily)",
        "factor_set": led.factor_set,
        "policy_version": led.policy.get("version"),
        "months": dict(sorted(by_month.items())),
        "months_with_data": sorted(with_data),
        "meters": sorted(meters),
        "meter_count": len(meters),
        "readings": readings,
        "flagged_readings": flagged,
        "reading_batches": batches,
        "direct_green_metered_kwh": green_kwh,
        "ignored_carriers": sorted(ignored),
        "enterprise_ids": sorted(enterprises),
        "activity_records": [{k: r[k] for k in ("enterprise", "period", "quantity", "value",
                                                "batch")} for r in records],
    }
    return answer


BASES: dict[str, tuple[str, str]] = {
    "calorific": ("equivalent", "当量值"),
    "equivalent": ("coal_equivalent_of_generation", "等价值"),
}
"""API basis -> (policy electricity_tce_basis, Chinese name). calorific = 当量值 (the heat
content, 0.1229 kgce/kWh, GB/T 2589); equivalent = 等价值 (the fossil generation coal use of the
year). The default policy uses 当量值."""
POLICY_BASIS = {v[0]: k for k, v in BASES.items()}


@dataclass(frozen=True)
class Basis:
    """The factor set and electricity tce basis a figure is asked under (None: the policy's)."""

    factor_set: str | None = None
    basis: str | None = None


def available_factor_sets() -> list[dict[str, Any]]:
    """Every shipped factor set with its description and the key factors' values and sources."""
    from carbon import available_factor_sets as versions
    from carbon import load_factor_set

    default = load_policy().factor_set_version or versions()[-1]
    out = []
    for v in versions():
        fs = load_factor_set(v)
        key = []
        for getter, args in ((fs.standard_coal, ("electricity_equivalent",)),
                             (fs.electricity_co2, ("national_average", 9999)),
                             (fs.electricity_co2, ("national_residual", 9999)),
                             (fs.heat_co2, ())):
            try:
                key.append(getter(*args).to_dict())
            except LookupError:
                continue
        years = sorted(int(y) for y in fs.raw.get("electricity_co2", {}).get(
            "national_average", {}))
        out.append({"version": v, "compiled": fs.compiled, "description": fs.description,
                    "default": v == default, "electricity_factor_years": years,
                    "key_factors": key})
    return out


def _apply_basis(answer: dict[str, Any], want: Basis) -> dict[str, Any]:
    """The answer under another factor set or electricity basis: recomputed by carbon from the
    same inputs (a frozen month's frozen inputs), saying so; echoes basis and factor set."""
    current_basis = POLICY_BASIS.get(answer["policy"].get("electricity_tce_basis"), "calorific")
    fs_want = want.factor_set or answer["factor_set"]
    basis_want = want.basis or current_basis
    if fs_want == answer["factor_set"] and basis_want == current_basis:
        answer["basis"], answer["basis_zh"] = current_basis, BASES[current_basis][1]
        return answer
    pol = load_policy(electricity_tce_basis=BASES[basis_want][0], factor_set_version=fs_want)
    inputs = answer["inputs"]
    activity = Activity(**inputs["activity"])
    claims: dict[str, Any] = {}
    insts = [_instrument(d) for d in inputs.get("instruments", [])]
    if "holders" in inputs:
        by: dict[str, list[Instrument]] = {}
        for i in insts:
            by.setdefault(i.enterprise, []).append(i)
        claims["holders"] = [Holder(h["code"], h["energy"], h["green_direct_metered_kwh"],
                                    by.get(h["code"], [])) for h in inputs["holders"]]
    elif "instruments" in inputs:
        claims["instruments"] = insts
    if "instruments" in inputs:
        claims["green_direct_metered_kwh"] = inputs.get("green_direct_metered_kwh", 0.0)
    try:
        led = compute_ledger(inputs["energy"], activity, policy=pol, period=answer["period"],
                             scope=answer["scope"], code=answer["code"], **claims)
    except (InputError, UnknownFactorError) as exc:
        raise invalid("factor_set", str(exc), f"Cannot compute under factor set {fs_want}, "
                      f"basis {basis_want}: {exc}") from None
    out = {**answer, **led.to_dict()}
    out["warnings"] = led.warnings + [w for w in answer["warnings"] if w not in led.warnings]
    out["provenance"] = {**answer["provenance"], "factor_set": led.factor_set,
                         "policy_version": led.policy.get("version")}
    out["input_hash"] = input_hash(out)
    out["recomputed"] = {"from_factor_set": answer["factor_set"], "from_basis": current_basis,
                         "from_input_hash": answer.get("input_hash"),
                         "note": "recomputed from the same inputs under the asked factor set"
                                 " and basis; not a closed figure"}
    out["basis"], out["basis_zh"] = basis_want, BASES[basis_want][1]
    return out


def _restated(conn: Connection, answer: dict[str, Any], label: str) -> dict[str, Any]:
    """A frozen answer says which version it is and whether a later one restates it."""
    latest = repo.latest_version(conn, label)
    answer["latest_version"] = latest
    answer["restated"] = answer.get("version", latest) < latest
    return answer


def ledger(conn: Connection, entity: Entity, period: Period, *, store: ReadingsStore,
           use_frozen: bool = True, with_batches: bool = True,
           version: int | None = None, want: Basis | None = None) -> dict[str, Any]:
    """The ledger answer: a closed month answers from its newest frozen version (``version``:
    an earlier one, kept after every restatement); a quarter or year sums frozen months'
    inputs with live ones. ``want``: another factor set or electricity basis (recomputed).
    Remembered per data version (:mod:`app.services.answer_cache`)."""
    want = want or Basis()

    def compute() -> dict[str, Any]:
        answer = _ledger(conn, entity, period, store=store, use_frozen=use_frozen,
                         with_batches=with_batches, version=version)
        return _apply_basis(answer, want)

    return remembered(conn, ("ledger", entity, period, use_frozen, with_batches, version, want),
                      compute, store=store)


def _ledger(conn: Connection, entity: Entity, period: Period, *, store: ReadingsStore,
            use_frozen: bool, with_batches: bool, version: int | None) -> dict[str, Any]:
    if version is not None:
        if period.months != 1:
            raise invalid("version", "only with period=YYYY-MM",
                          "version= applies to a month (YYYY-MM).")
        f = repo.frozen_version(conn, period.label, version, entity.scope, entity.code)
        if f is None:
            raise Problem(404, f"{period.label} has no closed version {version} for"
                          f" {entity.code}.", kind="not-found")
        return _restated(conn, f, period.label)
    months = period.month_labels()
    frozen = repo.frozen_ledgers(conn, months, entity.scope, entity.code) if use_frozen else {}
    if period.months == 1 and period.label in frozen:
        return _restated(conn, frozen[period.label], period.label)
    live = [m for m in months if m not in frozen]
    legacy = [m for m, f in frozen.items() if "instruments" not in f["inputs"]]
    data = _load(conn, period, entity.enterprise_id, store=store, live_months=live,
                 with_batches=with_batches, instrument_months=live + legacy)
    answer = _assemble(entity, period, data, frozen)
    if period.months == 1:
        answer["version"] = None  # live: not a closed version
        answer["latest_version"] = repo.latest_version(conn, period.label)
        answer["restated"] = False
    return answer


# ---- closing ---------------------------------------------------------------------------------
def _utc(day: date) -> datetime:
    """Local (Asia/Shanghai) midnight of ``day`` as an aware datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=PARK_ZONE)


def _month(label: str) -> Period:
    p = parse_period(label)
    if p.months != 1:
        raise invalid("period", "not YYYY-MM", "Only a month (YYYY-MM) is closed or reopened.")
    return p


def _all_ledgers(conn: Connection, period: Period, *, store: ReadingsStore) -> list[dict[str, Any]]:
    """Park and every enterprise, live, from one set of queries."""
    data = _load(conn, period, None, store=store, live_months=[period.label],
                 with_batches=True)
    out = [_assemble(Entity("park", "park"), period, data, {})]
    for ent_id, code in sorted(repo.enterprise_codes(conn).items(), key=lambda x: x[1]):
        out.append(_assemble(Entity("enterprise", code, ent_id), period, data, {}))
    return out


def month_ledgers(conn: Connection, period: Period, *, store: ReadingsStore,
                  version: int | None = None, want: Basis | None = None
                  ) -> list[dict[str, Any]]:
    """Park and every enterprise for one month: frozen when the month is closed (or the given
    closed version), else live; under ``want`` when given."""
    return [_apply_basis(a, want or Basis()) for a in _month_ledgers(
        conn, period, store=store, version=version)]


def _month_ledgers(conn: Connection, period: Period, *, store: ReadingsStore,
                   version: int | None = None) -> list[dict[str, Any]]:
    if version is not None:
        out = repo.frozen_all(conn, period.label, version)
        if not out:
            raise Problem(404, f"{period.label} has no closed version {version}.",
                          kind="not-found")
        return [_restated(conn, a, period.label) for a in out]
    frozen = repo.frozen_all(conn, period.label)
    if frozen:
        return [_restated(conn, a, period.label) for a in frozen]
    return _all_ledgers(conn, period, store=store)


def close_period(engine: Engine, label: str, *, api_key_id: int | None, actor: str,
                 store: ReadingsStore) -> dict[str, Any]:
    """Freeze the month's ledgers (park + every enterprise) with their input hashes.

    The month's sums are materialised first (TimescaleDB: its continuous aggregates are
    refreshed), so what is frozen is not a region a background refresh has yet to catch up on."""
    period = _month(label)
    store.refresh(engine, _utc(period.start), _utc(period.end))
    with engine.begin() as conn:
        if repo.lock_period(conn, label) == "closed":
            raise Problem(409, f"Period {label} is closed already.", kind="period-closed")
        answers = _all_ledgers(conn, period, store=store)
        version = repo.latest_version(conn, label) + 1
        event = repo.add_event(conn, label, "close", reason=None, api_key_id=api_key_id,
                               actor=actor, ledgers=len(answers),
                               park_input_hash=answers[0]["input_hash"], version=version)
        at = datetime.now(UTC).isoformat()
        for a in answers:
            a["status"] = "closed"
            a["closed"] = {"event": event, "at": at, "by": actor, "version": version}
            for k in ("version", "latest_version", "restated"):
                a.pop(k, None)
        repo.store_frozen(conn, label, event, version, [
            (a["scope"], a["code"], a["input_hash"], json.dumps(a, default=str))
            for a in answers])
        repo.set_period_status(conn, label, "closed", version)
    return {"period": label, "status": "closed", "event": event, "version": version,
            "ledgers": len(answers), "park_input_hash": answers[0]["input_hash"]}


def reopen_period(engine: Engine, label: str, *, api_key_id: int, actor: str, reason: str
                  ) -> dict[str, Any]:
    _month(label)
    with engine.begin() as conn:
        if repo.lock_period(conn, label) != "closed":
            raise Problem(409, f"Period {label} is not closed.", kind="period-not-closed")
        event = repo.add_event(conn, label, "reopen", reason=reason, api_key_id=api_key_id,
                               actor=actor)
        repo.set_period_status(conn, label, "open")
    return {"period": label, "status": "open", "event": event, "reason": reason}


def period_detail(conn: Connection, label: str, *, store: ReadingsStore) -> dict[str, Any]:
    """Status, audit events and, when closed, a recomputation of every frozen ledger."""
    period = _month(label)
    status, events = repo.period_info(conn, label)
    out: dict[str, Any] = {"period": label, "status": status or "open", "events": events,
                           "versions": _versions(conn, label, events)}
    if status == "closed":
        live = {(a["scope"], a["code"]): a["input_hash"]
                for a in _all_ledgers(conn, period, store=store)}
        checks = [{"scope": s, "code": c, "frozen_input_hash": h,
                   "recomputed_input_hash": live.get((s, c)), "same": live.get((s, c)) == h}
                  for s, c, h in repo.frozen_hashes(conn, label)]
        out["verification"] = {"all_same": all(c["same"] for c in checks), "ledgers": checks}
    return out


def _versions(conn: Connection, label: str, events: list[dict[str, Any]]
              ) -> list[dict[str, Any]]:
    """Every closed version: who closed it and when, why it was restated (the reopen before
    it) and how it differs from the version before (park totals, ledgers whose inputs changed)."""
    out: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    summaries = repo.version_summaries(conn, label)
    by_event = {e["event"]: e for e in events}
    for s in summaries:
        close = by_event.get(s["event"], {})
        reopen = next((e for e in reversed(events) if e["action"] == "reopen"
                       and e["event"] < s["event"]
                       and (prev is None or e["event"] > prev["event"])), None)
        item: dict[str, Any] = {
            "version": s["version"], "closed_event": s["event"],
            "closed_at": close.get("at"), "closed_by": close.get("actor"),
            "reason": reopen["reason"] if reopen else None,
            "reopened_by": reopen["actor"] if reopen else None,
            "reopened_at": reopen["at"] if reopen else None,
            "park": s.get("park"), "current": s is summaries[-1] and
            repo.closed_months(conn, [label]) == {label},
            "difference": None,
        }
        if prev is not None:
            changed = sorted(k.split(":", 1)[1] for k in set(s["hashes"]) | set(prev["hashes"])
                             if s["hashes"].get(k) != prev["hashes"].get(k))
            diff = {k: (None if (s.get("park") or {}).get(k) is None
                        or (prev.get("park") or {}).get(k) is None
                        else s["park"][k] - prev["park"][k])
                    for k in ("energy_tce", "co2_t", "co2_location_based_t",
                              "co2_market_based_t")}
            item["difference"] = {"against_version": prev["version"],
                                  **{f"{k}_delta": v for k, v in diff.items()},
                                  "ledgers_changed": changed}
        out.append(item)
        prev = s
    return out


def period_history(conn: Connection, label: str) -> list[dict[str, Any]]:
    """The month's closed versions for reports: who, when, why, and the change in park totals."""
    _, events = repo.period_info(conn, label)
    out = []
    for v in _versions(conn, label, events):
        d = v["difference"] or {}
        fmt = (lambda x: "—" if x is None else f"{x:+,.3f}")  # noqa: E731
        out.append({"version": v["version"], "closed_at": str(v["closed_at"])[:19],
                    "closed_by": v["closed_by"], "reason": v["reason"],
                    "energy_delta": fmt(d.get("energy_tce_delta")),
                    "co2_delta": fmt(d.get("co2_t_delta")),
                    "changed": ", ".join(d.get("ledgers_changed", [])) or "—"})
    return out


def close_previous_month(engine: Engine, *, store: ReadingsStore, today: date | None = None
                         ) -> dict[str, Any] | None:
    """The monthly job: close last month unless it is closed already (then None)."""
    label = previous_month(today or datetime.now(UTC).date()).label
    try:
        return close_period(engine, label, api_key_id=None, actor="scheduler",
                            store=store)
    except Problem as exc:
        if exc.status == 409:
            return None
        raise


def closed_month_of(conn: Connection, labels: list[str]) -> set[str]:
    return repo.closed_months(conn, labels)


def closed_periods_touched_by_readings(engine: Engine, batch_id: int, meter_ids: list[int],
                                       months: list[str]) -> list[str]:
    """Closed months in which a readings batch inserted or revised readings. The readings are
    stored (meter data are facts); each such month gets an operator alert that it needs a
    reopen to restate, and the frozen ledger stays as it was until then."""
    from app.services.carbon_instruments import closed_periods_touched

    with engine.begin() as conn:
        closed = sorted(repo.closed_months(conn, sorted(set(months))))
        if not closed:
            return []
        spans = [(m, (p := parse_period(m)).start, p.end) for m in closed]
        written = repo.months_written_by_batch(conn, batch_id, meter_ids, spans)
        return closed_periods_touched(conn, written, "Meter readings")


# ---- indicators and targets ------------------------------------------------------------------
def base_year() -> int:
    return load_phases()[0]


def _indicators_of(conn: Connection, entity: Entity, period: Period, *, store: ReadingsStore,
                   base: Ledger | None, version: int | None = None,
                   want: Basis | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    answer = ledger(conn, entity, period, store=store, with_batches=False,
                    version=version, want=want)
    ind = compute_indicators(as_ledger(answer), base=base)
    return ind.to_dict(), answer


def _base_ledger(conn: Connection, entity: Entity, *, store: ReadingsStore,
                 want: Basis | None = None) -> Ledger | None:
    answer = ledger(conn, entity, parse_period(str(base_year())), store=store,
                    with_batches=False, want=want)
    if answer["energy_tce"] <= 0 or not answer["inputs"]["activity"]["value_added_10k_yuan"]:
        return None
    return as_ledger(answer)


def _target_rows(indicator: str) -> list[dict[str, Any]]:
    rows = []
    for name in TARGET_SETS:
        for t in load_targets(name).targets:
            if t.indicator == indicator:
                rows.append({"set": name, "id": t.id, "comparator": t.comparator,
                             "value": t.value, "change_vs_base_pct": t.change_vs_base_pct,
                             "bands": [b.__dict__ for b in t.bands] or None, "year": t.year,
                             "unit": t.unit, "binding": t.binding})
    return rows


def indicators(conn: Connection, entity: Entity, period: Period, *, store: ReadingsStore,
               version: int | None = None, want: Basis | None = None) -> dict[str, Any]:
    base = _base_ledger(conn, entity, store=store, want=want)
    ind, answer = _indicators_of(conn, entity, period, store=store, base=base,
                                 version=version, want=want)
    names = [k for k in ind if k.endswith(("_pct", "_per_tce", "_per_10k_yuan"))]
    reasons = null_reasons(compute_indicators(as_ledger(answer), base=base))
    return {
        "scope": entity.scope, "code": entity.code, "period": period.label,
        "factor_set": answer["factor_set"], "basis": answer["basis"],
        "basis_zh": answer["basis_zh"], "recomputed": answer.get("recomputed"),
        "ledger_status": answer["status"], "version": answer.get("version"),
        "latest_version": answer.get("latest_version"),
        "restated": answer.get("restated", False),
        "base_year": base_year(), "indicators": ind,
        "targets": {n: _target_rows(n) for n in names if _target_rows(n)},
        "coverage": coverage(conn, entity, period, answer),
        "null_reasons": reasons,
        "warnings": answer["warnings"],
    }


def local_today() -> date:
    return datetime.now(PARK_ZONE).date()


def coverage(conn: Connection, entity: Entity, period: Period, answer: dict[str, Any], *,
             as_of: date | None = None) -> dict[str, Any]:
    """What a figure of ``period`` rests on: months and carriers with data, readings against
    those expected so far, value added present or not; ``complete`` only when the period has
    ended (by ``as_of``, default today) and every month has energy data."""
    as_of = as_of or local_today()
    prov = answer["provenance"]
    months = period.month_labels()
    with_data = [m for m in prov.get("months_with_data", []) if m in months]
    missing = [m for m in months if m not in with_data]
    upto = min(period.end, max(as_of, period.start))
    expected = repo.expected_readings(conn, period.start, upto, entity.enterprise_id,
                                      sorted({c for c, _ in ENERGY_KEY}))
    readings = int(prov.get("readings", 0))
    va = answer["inputs"]["activity"].get("value_added_10k_yuan")
    because = []
    if period.end > as_of:
        because.append(f"the period ends {period.end.isoformat()} (as of {as_of.isoformat()})")
    if missing:
        because.append(f"no energy data for {', '.join(missing)}")
    return {
        "period": period.label,
        "months_expected": len(months),
        "months_with_data": with_data,
        "months_missing": missing,
        "carriers_with_data": sorted(k for k, v in answer["inputs"]["energy"].items() if v),
        "readings": readings,
        "readings_expected_so_far": expected,
        "readings_pct": round(100.0 * readings / expected, 2) if expected else None,
        "value_added_present": va is not None,
        "complete": not because,
        "incomplete_because": because,
    }


def targets_status(conn: Connection, entity: Entity, as_of_year: int, *, store: ReadingsStore,
                   as_of: date | None = None) -> dict[str, Any]:
    """Actual against target per phase, trend to the phase end, yearly change still needed.

    Honest: each status carries the coverage of its actual's year; an incomplete year is
    ``incomplete``; a projection needs three complete years (``insufficient_data`` else)."""
    as_of = as_of or min(local_today(), date(as_of_year, 12, 31))
    base = _base_ledger(conn, entity, store=store)
    history: dict[int, Any] = {}
    cover: dict[int, dict[str, Any]] = {}
    for year in range(base_year(), as_of_year + 1):
        period = parse_period(str(year))
        _, answer = _indicators_of(conn, entity, period, store=store, base=base)
        if answer["energy_tce"] > 0:  # a year without metered energy would fake ratios
            history[year] = as_ledger(answer)
            cover[year] = coverage(conn, entity, period, answer, as_of=as_of)
    frame = history_frame({y: compute_indicators(led, base=base) for y, led in history.items()})
    out = []
    for name in TARGET_SETS:
        for st in target_status(frame, load_targets(name), as_of_year, coverage=cover,
                                min_full_periods=MIN_FULL_PERIODS,
                                max_yearly_change_pct=MAX_PROJECTED_CHANGE_PCT) \
                if len(frame) else []:
            row = st.to_dict()
            row["target_set"] = name
            out.append({k: (None if isinstance(v, float) and math.isnan(v) else v)
                        for k, v in row.items()})
    hist = {int(y): {k: v for k, v in r.items() if k in (
        "energy_tce", "co2_t", "value_added_10k_yuan", "energy_intensity_tce_per_10k_yuan",
        "co2_per_energy_t_per_tce", "clean_energy_share_pct", "solid_waste_utilisation_pct",
        "waste_heat_utilisation_pct", "water_reuse_pct", "cod_intensity_kg_per_10k_yuan",
        "energy_intensity_change_vs_base_pct")} | {"coverage": cover[int(y)]}
        for y, r in frame.to_dict(orient="index").items()} if len(frame) else {}
    return {"scope": entity.scope, "code": entity.code, "as_of_year": as_of_year,
            "as_of": as_of.isoformat(), "base_year": base_year(), "history": hist,
            "projection_rule": {"min_complete_years": MIN_FULL_PERIODS,
                                "max_yearly_change_pct": MAX_PROJECTED_CHANGE_PCT},
            "status": out}

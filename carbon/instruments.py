"""Green-electricity instruments (绿证, 绿电交易, 绿电直连) and who may count them.

Rules (sources and reasons in carbon/README.md):

1. An instrument has an `id` (certificate serial, trade contract, direct-line settlement); an id
   is claimed once in the whole park. Checking that across stored instruments is the caller's
   job; `check_instruments` refuses duplicates inside one batch.
2. A `gec` bundled with a `green_power_trade` or a `direct_supply` (`bundled_with` = that id) is
   the attribute proof of that electricity: it adds no coverage of its own. Its MWh cannot exceed
   what it is bundled with (sum over the bundle).
3. A `direct_supply` covers only metered green-direct electricity (meters flagged
   green_direct_supply): coverage = min(Σ direct_supply MWh, metered green-direct MWh).
4. The market-based method counts instruments only, applied in the policy order
   (`deductible_instruments`: direct supply, then green-power trades, then unbundled
   certificates; within a kind by id), each capped at the holder's remaining grid electricity.
5. What is not applied is the holder's `unused_mwh`; it never covers another holder's
   electricity unless the park pools instruments (`pool_claims`), and then the park ledger says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from energy.units import KWH_PER_MWH

KINDS: tuple[str, ...] = ("direct_supply", "green_power_trade", "gec")
#: instrument kind -> name of the matching policy entry (AccountingPolicy.deductible_instruments)
POLICY_NAME: dict[str, str] = {"direct_supply": "direct_green_supply",
                               "green_power_trade": "green_power_trades",
                               "gec": "green_certificates"}
BUNDLE_TARGETS: tuple[str, ...] = ("green_power_trade", "direct_supply")
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}$")


@dataclass(frozen=True)
class Instrument:
    """One green-electricity instrument of one enterprise for one month (1 gec = 1 MWh)."""

    id: str
    kind: str
    enterprise: str
    period: str
    mwh: float
    bundled_with: str | None = None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Holder:
    """An enterprise's electricity (electricity_import_kwh, electricity_export_kwh,
    pv_generation_kwh; green-direct kWh are part of the import) and its instruments."""

    code: str
    energy: Mapping[str, float]
    green_direct_metered_kwh: float = 0.0
    instruments: Sequence[Instrument] = ()

    def grid_basis_kwh(self, export_netting: bool) -> float:
        e = self.energy
        return grid_basis_kwh(e.get("electricity_import_kwh", 0.0),
                              e.get("electricity_export_kwh", 0.0),
                              e.get("pv_generation_kwh", 0.0), export_netting)


@dataclass(frozen=True)
class InstrumentUse:
    id: str
    kind: str
    mwh: float
    coverage_mwh: float  # what it may cover (0 for a bundled gec; direct supply matched to meters)
    applied_mwh: float
    unused_mwh: float
    bundled_with: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Claims:
    """Instruments applied to one holder's grid electricity (or the pooled park)."""

    holder: str
    grid_basis_kwh: float
    green_direct_metered_kwh: float
    order: tuple[str, ...]
    applied_mwh: dict[str, float]  # per policy name (direct_green_supply, ...)
    unused_mwh: float
    instruments: list[InstrumentUse] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_instruments(items: Sequence[Instrument],
                      known: Mapping[str, Instrument] | None = None,
                      bundled_elsewhere: Mapping[str, float] | None = None,
                      ) -> list[tuple[int, str, str]]:
    """Rule violations as (index in `items`, field, message); `known` are stored instruments
    a bundle may point at (an item with the same id replaces the known one);
    `bundled_elsewhere`: MWh of stored certificates (not in `items`) bundled with each id."""
    known = dict(known or {})
    errors: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for i, it in enumerate(items):
        if not _ID_RE.match(it.id or ""):
            errors.append((i, "id", "1–128 characters: letters, digits and . _ : / -"))
        elif it.id in seen:
            errors.append((i, "id", f"duplicate of item {seen[it.id] + 1} in this batch"))
        else:
            seen[it.id] = i
        if it.kind not in KINDS:
            errors.append((i, "kind", f"use one of {list(KINDS)}"))
        if not _MONTH_RE.match(it.period or ""):
            errors.append((i, "period", "use YYYY-MM"))
        if not (isinstance(it.mwh, int | float) and math.isfinite(it.mwh) and it.mwh > 0):
            errors.append((i, "mwh", "a finite number > 0"))
    pool = dict(known)
    for it in items:  # a batch's first item of an id replaces the stored one
        if seen.get(it.id) is not None and items[seen[it.id]] is it:
            pool[it.id] = it
    bundled: dict[str, float] = dict(bundled_elsewhere or {})
    for i, it in enumerate(items):
        if it.bundled_with is None:
            continue
        target = pool.get(it.bundled_with)
        if it.kind != "gec":
            errors.append((i, "bundled_with", "only a gec is bundled with another instrument"))
        elif it.bundled_with == it.id:
            errors.append((i, "bundled_with", "an instrument cannot be bundled with itself"))
        elif target is None:
            errors.append((i, "bundled_with", f"unknown instrument {it.bundled_with!r}"))
        elif target.kind not in BUNDLE_TARGETS:
            errors.append((i, "bundled_with", f"a gec bundles with {list(BUNDLE_TARGETS)},"
                           f" not {target.kind}"))
        elif (target.enterprise, target.period) != (it.enterprise, it.period):
            errors.append((i, "bundled_with", "must be the same enterprise and period"))
        else:
            bundled[target.id] = bundled.get(target.id, 0.0) + float(it.mwh)
    # a certificate row names the excess; else the revised trade or direct supply does
    def named_by_certificate(it: Instrument) -> str | None:
        return it.bundled_with

    def revised_target(it: Instrument) -> str | None:
        return it.id if it.id in (bundled_elsewhere or {}) else None

    for pick in (named_by_certificate, revised_target):
        for i, it in enumerate(items):
            tid = pick(it)
            if tid in bundled and tid in pool and bundled[tid] > pool[tid].mwh + 1e-9:
                errors.append((i, "mwh", f"certificates bundled with {tid}"
                               f" ({bundled[tid]:g} MWh) exceed its {pool[tid].mwh:g} MWh"))
                bundled.pop(tid)
    return errors


def grid_basis_kwh(import_kwh: float, export_kwh: float, pv_generation_kwh: float,
                   export_netting: bool) -> float:
    """Grid electricity the indirect emissions are computed on (see carbon.scope2)."""
    if export_netting:
        return max(0.0, import_kwh - export_kwh)
    return max(0.0, import_kwh - (export_kwh - min(export_kwh, pv_generation_kwh)))


def claim(holder: Holder, order: Sequence[str], *, export_netting: bool = True,
          grid_kwh: float | None = None) -> Claims:
    """Apply one holder's instruments to its grid electricity (rules 2–5 of the module);
    `grid_kwh` overrides the holder's own grid basis (the pooled park)."""
    basis = holder.grid_basis_kwh(export_netting) if grid_kwh is None else grid_kwh
    insts = sorted(holder.instruments, key=lambda x: (KINDS.index(x.kind), x.id))
    warnings: list[str] = []
    coverage: dict[str, float] = {}
    notes: dict[str, str] = {}
    direct_left = holder.green_direct_metered_kwh / KWH_PER_MWH
    for it in insts:
        if it.kind == "gec" and it.bundled_with:
            coverage[it.id] = 0.0
            notes[it.id] = f"bundled with {it.bundled_with}: proof of it, no coverage of its own"
        elif it.kind == "direct_supply":
            coverage[it.id] = min(it.mwh, direct_left)
            direct_left -= coverage[it.id]
            if coverage[it.id] < it.mwh - 1e-9:
                notes[it.id] = (f"{it.mwh - coverage[it.id]:.6g} MWh beyond the metered"
                                " green-direct electricity")
        else:
            coverage[it.id] = float(it.mwh)
    direct_total = sum(coverage[it.id] for it in insts if it.kind == "direct_supply")
    unmatched_kwh = holder.green_direct_metered_kwh - direct_total * KWH_PER_MWH
    if unmatched_kwh > 1e-6:
        warnings.append(
            f"{holder.code}: {unmatched_kwh / KWH_PER_MWH:.6g} MWh of metered green-direct"
            " electricity has no direct_supply instrument; counted at the residual factor"
            " (market-based)")
    remaining = basis
    applied: dict[str, float] = {}
    for name in order:
        for it in insts:
            if POLICY_NAME[it.kind] != name:
                continue
            take = min(coverage[it.id] * KWH_PER_MWH, remaining)
            remaining -= take
            applied[it.id] = take / KWH_PER_MWH
    uses = []
    applied_by_name = {POLICY_NAME[k]: 0.0 for k in KINDS}
    unused_total = 0.0
    for it in insts:
        a = applied.get(it.id, 0.0)
        bundled = it.kind == "gec" and bool(it.bundled_with)
        unused = 0.0 if bundled else float(it.mwh) - a
        if it.id not in applied and not bundled:
            notes.setdefault(it.id, "not a deductible instrument under the policy")
        applied_by_name[POLICY_NAME[it.kind]] += a
        unused_total += unused
        uses.append(InstrumentUse(it.id, it.kind, float(it.mwh), coverage[it.id], a, unused,
                                  it.bundled_with, notes.get(it.id, "")))
    if unused_total > 1e-9:
        warnings.append(f"{holder.code}: {unused_total:.6g} MWh of instruments not applied"
                        " (unused_instruments_mwh)")
    return Claims(holder.code, basis, holder.green_direct_metered_kwh,
                  tuple(order), applied_by_name, unused_total, uses, warnings)


def park_claims(holders: Sequence[Holder], order: Sequence[str], *, park_grid_basis_kwh: float,
                pool: bool, export_netting: bool = True) -> tuple[Claims, list[Claims]]:
    """The park's applied instruments and each holder's claims.

    Not pooled: the park applies what each enterprise applied to its own electricity (summed,
    capped at the park's grid basis); leftovers stay with their holder. Pooled: every instrument
    is applied against the park's electricity as a whole (an explicit policy)."""
    each = [claim(h, order, export_netting=export_netting) for h in holders]
    if pool:
        pooled = claim(Holder("park", {}, sum(h.green_direct_metered_kwh for h in holders),
                              [i for h in holders for i in h.instruments]), order,
                       grid_kwh=park_grid_basis_kwh)
        return Claims("park", park_grid_basis_kwh, pooled.green_direct_metered_kwh, tuple(order),
                      pooled.applied_mwh, pooled.unused_mwh, pooled.instruments,
                      ["park pools instruments across enterprises (policy"
                       " pool_instruments_in_park): leftovers of one enterprise cover another's"
                       " electricity in the park figure", *pooled.warnings]), each
    remaining = park_grid_basis_kwh
    applied: dict[str, float] = {}
    for name in order:
        want = sum(c.applied_mwh.get(name, 0.0) for c in each) * KWH_PER_MWH
        take = min(want, remaining)
        remaining -= take
        applied[name] = take / KWH_PER_MWH
    for name in POLICY_NAME.values():
        applied.setdefault(name, 0.0)
    unused = sum(c.unused_mwh for c in each)
    warnings = [w for c in each for w in c.warnings]
    return Claims("park", park_grid_basis_kwh, sum(h.green_direct_metered_kwh for h in holders),
                  tuple(order), applied, unused, [u for c in each for u in c.instruments],
                  warnings), each

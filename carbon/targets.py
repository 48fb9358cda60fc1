"""Targets, phases and target status (carbon/data/targets_*.yaml, carbon/data/phases.yaml).

Status per target and phase: the actual value, the trend (linear or compound, fitted on the
yearly history up to `as_of_year`) projected to the phase end, the yearly change still needed
to reach the target, and whether the target is on track.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from carbon.policy import AccountingPolicy, load_policy

DATA_DIR = Path(__file__).parent / "data"
_EPS = 1e-9


class TargetError(ValueError):
    """A target file or a status request is inconsistent."""


@dataclass(frozen=True)
class Phase:
    id: str
    start_year: int
    end_year: int
    title: str


@dataclass(frozen=True)
class Band:
    """Threshold applying to parks using at least `min_energy_tce` a year; `value` may name a
    policy setting ("policy.<field>")."""

    min_energy_tce: float
    value: float | str


@dataclass(frozen=True)
class Target:
    id: str
    indicator: str
    comparator: str  # "<=" or ">="
    year: int
    unit: str
    binding: bool
    source: str
    value: float | None = None
    change_vs_base_pct: float | None = None
    base_year: int | None = None
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True)
class TargetSet:
    name: str
    source: str
    base_year: int
    phases: tuple[Phase, ...]
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class TargetStatus:
    target_id: str
    indicator: str
    phase: str
    evaluation_year: int
    comparator: str
    target_value: float | None
    target_basis: str
    binding: bool
    actual_year: int | None
    actual_value: float | None
    met_now: bool | None
    trend_method: str
    projected_value: float | None
    required_yearly_change_pct: float | None
    status: str  # achieved | missed | on_track | off_track | no_data | incomplete
    #              | insufficient_data
    on_track: bool
    note: str = ""
    coverage: dict[str, Any] | None = None  # of the actual's period (honest mode)
    null_reasons: dict[str, str] | None = None  # why each None value is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_phases() -> tuple[int, tuple[Phase, ...]]:
    raw = yaml.safe_load((DATA_DIR / "phases.yaml").read_text(encoding="utf-8"))
    return int(raw["base_year"]), tuple(Phase(**p) for p in raw["phases"])


def available_target_sets() -> list[str]:
    return sorted(p.stem.removeprefix("targets_") for p in DATA_DIR.glob("targets_*.yaml"))


def load_targets(name: str) -> TargetSet:
    """Load carbon/data/targets_<name>.yaml ('plan' or 'zero_carbon_park')."""
    path = DATA_DIR / f"targets_{name}.yaml"
    if not path.exists():
        raise TargetError(f"unknown target set {name!r}; available: {available_target_sets()}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    base_year, phases = load_phases()
    targets = []
    for t in raw["targets"]:
        if t["comparator"] not in ("<=", ">="):
            raise TargetError(f"{t['id']}: comparator must be '<=' or '>='")
        given = [k for k in ("value", "change_vs_base_pct", "bands") if k in t]
        if len(given) != 1:
            raise TargetError(f"{t['id']}: give exactly one of value, change_vs_base_pct, bands")
        targets.append(Target(
            id=t["id"], indicator=t["indicator"], comparator=t["comparator"],
            year=int(t["year"]), unit=str(t["unit"]), binding=bool(t["binding"]),
            source=str(t["source"]),
            value=None if "value" not in t else float(t["value"]),
            change_vs_base_pct=t.get("change_vs_base_pct"),
            base_year=t.get("base_year"),
            bands=tuple(sorted((Band(float(b["min_energy_tce"]), b["value"])
                                for b in t.get("bands", [])),
                               key=lambda b: -b.min_energy_tce)),
        ))
    return TargetSet(name=raw["name"], source=raw["source"], base_year=base_year,
                     phases=phases, targets=tuple(targets))


def _as_frame(history: pd.DataFrame | Mapping[int, Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(history, pd.DataFrame):
        df = history.copy()
    else:
        df = pd.DataFrame.from_dict({int(y): dict(v) for y, v in history.items()}, orient="index")
    df.index = df.index.astype(int)
    return df.sort_index()


def _meets(value: float, target: float, comparator: str) -> bool:
    return value <= target + _EPS if comparator == "<=" else value >= target - _EPS


def _series(df: pd.DataFrame, column: str, up_to: int) -> pd.Series:
    if column not in df.columns:
        return pd.Series(dtype=float)
    s = pd.to_numeric(df[column], errors="coerce")
    return s[(s.index <= up_to) & s.notna()].astype(float)


def _project_capped(s: pd.Series, year: int, method: str, max_rate_pct: float
                    ) -> tuple[float, str]:
    """`_project` with the implied yearly change capped at ±max_rate_pct (compounded from the
    last value), so a short steep trend is not extrapolated beyond reason."""
    value, note = _project(s, year, method)
    last_year, last = int(s.index[-1]), float(s.iloc[-1])
    years = year - last_year
    if years <= 0 or last <= 0:
        return value, note
    hi = last * (1 + max_rate_pct / 100.0) ** years
    lo = last * max(0.0, 1 - max_rate_pct / 100.0) ** years
    if not lo <= value <= hi:
        value = min(max(value, lo), hi)
        note += f", capped at ±{max_rate_pct:g} %/yr from {last_year}"
    return value, note


def _project(s: pd.Series, year: int, method: str) -> tuple[float, str]:
    """Trend value at `year` from a yearly series (>= 1 point)."""
    if len(s) < 2:
        return float(s.iloc[-1]), "one year of data: flat projection"
    x = s.index.to_numpy(dtype=float)
    y = s.to_numpy(dtype=float)
    if method == "compound":
        if (y <= 0).any():
            method = "linear"
        else:
            slope, intercept = np.polyfit(x, np.log(y), 1)
            rate_pct = (math.exp(slope) - 1.0) * 100.0
            return float(math.exp(intercept + slope * year)), f"compound trend {rate_pct:+.2f} %/yr"
    slope, intercept = np.polyfit(x, y, 1)
    return float(intercept + slope * year), f"linear trend {slope:+.4g}/yr"


def _resolve_final(t: Target, df: pd.DataFrame, ts: TargetSet, as_of_year: int,
                   policy: AccountingPolicy) -> tuple[float | None, str]:
    if t.value is not None:
        return t.value, "value"
    if t.change_vs_base_pct is not None:
        base_year = t.base_year or ts.base_year
        base = _series(df, t.indicator, base_year)
        if base.empty or base.index[-1] != base_year:
            return None, f"no {t.indicator} for base year {base_year}"
        b = float(base.iloc[-1])
        return b * (1.0 + t.change_vs_base_pct / 100.0), (
            f"{base_year} base {b:.6g} x (1 {t.change_vs_base_pct:+g} %)"
        )
    energy = _series(df, "energy_tce", as_of_year)
    if energy.empty:
        return None, "no energy_tce in history to choose the threshold band"
    e = float(energy.iloc[-1])
    for band in t.bands:
        if e >= band.min_energy_tce:
            v = band.value
            if isinstance(v, str):
                setting = v.removeprefix("policy.")
                v = float(getattr(policy, setting))
                label = f"setting {setting}"
            else:
                label = "published threshold"
            return float(v), f"band >= {band.min_energy_tce:,.0f} tce ({e:,.0f} tce in "\
                f"{int(energy.index[-1])}): {label}"
    return None, f"no band for {e} tce"


def target_status(
    history: pd.DataFrame | Mapping[int, Mapping[str, Any]],
    targets: TargetSet,
    as_of_year: int,
    policy: AccountingPolicy | None = None,
    trend: str | None = None,
    coverage: Mapping[int, Mapping[str, Any]] | None = None,
    min_full_periods: int = 3,
    max_yearly_change_pct: float = 30.0,
) -> list[TargetStatus]:
    """Status of every target in every phase it spans.

    history: yearly indicator values, index = year, columns = indicator names (see
    `carbon.indicators.history_frame`); `energy_tce` selects the core-indicator band.
    In a phase ending before the target year the interim value follows `policy.milestone_rule`
    (linear from the base-year actual to the target). Years after `as_of_year` are ignored.

    Honest mode (`coverage` given: per year a mapping with at least `complete: bool`): a value
    from an incomplete year gives status `incomplete` (never achieved or met); a projection is
    fitted on complete years only and needs at least `min_full_periods` of them (else
    `insufficient_data`), and its implied yearly change is capped at ±`max_yearly_change_pct`.
    Every None value comes with a reason in `null_reasons`.
    """
    policy = policy or load_policy()
    method = trend or policy.trend_method
    if method not in ("compound", "linear"):
        raise TargetError(f"trend {method!r}; use 'compound' or 'linear'")
    df = _as_frame(history)
    out: list[TargetStatus] = []
    for t in targets.targets:
        final, final_basis = _resolve_final(t, df, targets, as_of_year, policy)
        for ph in targets.phases:
            if ph.start_year > t.year:
                continue
            eval_year = min(ph.end_year, t.year)
            target_value, basis, note = final, final_basis, ""
            if t.year > ph.end_year:
                if policy.milestone_rule == "none":
                    continue
                base_year = t.base_year or targets.base_year
                base = _series(df, t.indicator, base_year)
                if final is None or base.empty or base.index[-1] != base_year:
                    target_value = None
                    basis = f"milestone needs the {base_year} base value and the final target"
                else:
                    b = float(base.iloc[-1])
                    if _meets(b, final, t.comparator):
                        target_value = final
                    else:
                        frac = (eval_year - base_year) / (t.year - base_year)
                        target_value = b + (final - b) * frac
                    basis = (f"milestone linear from {base_year} base {b:.6g} to "
                             f"{final:.6g} in {t.year}")
            s = _series(df, t.indicator, min(as_of_year, eval_year))
            if coverage is not None:
                out.append(_honest(t, ph.id, eval_year, target_value, basis, s, as_of_year,
                                   method, coverage, min_full_periods, max_yearly_change_pct))
                continue
            if target_value is None or s.empty:
                out.append(TargetStatus(
                    t.id, t.indicator, ph.id, eval_year, t.comparator, target_value, basis,
                    t.binding, None, None, None, method, None, None, "no_data", False,
                    "no recorded value" if s.empty else basis))
                continue
            actual_year, actual = int(s.index[-1]), float(s.iloc[-1])
            met_now = _meets(actual, target_value, t.comparator)
            if as_of_year >= eval_year:
                projected, required = actual, None
                if actual_year != eval_year:
                    note = f"no value for {eval_year}; last value is {actual_year}"
                    status = "no_data"
                else:
                    status = "achieved" if met_now else "missed"
            else:
                projected, note = _project(s, eval_year, method)
                if t.indicator.endswith("_pct") and not 0.0 <= projected <= 100.0:
                    # a share cannot leave [0, 100] %, whatever a fitted trend says
                    projected = min(max(projected, 0.0), 100.0)
                    note += ", capped to [0, 100] %"
                status = "on_track" if _meets(projected, target_value, t.comparator) \
                    else "off_track"
                required = _required(actual, actual_year, target_value, eval_year, met_now)
            out.append(TargetStatus(
                t.id, t.indicator, ph.id, eval_year, t.comparator, target_value, basis,
                t.binding, actual_year, actual, met_now, method, projected, required, status,
                status in ("achieved", "on_track"), note))
    return out


def _required(actual: float, actual_year: int, target_value: float, eval_year: int,
              met_now: bool) -> float | None:
    if met_now:
        return 0.0
    if actual > 0 and target_value > 0 and eval_year > actual_year:
        return float(((target_value / actual) ** (1.0 / (eval_year - actual_year)) - 1.0) * 100.0)
    return None


def _honest(t: Target, phase: str, eval_year: int, target_value: float | None, basis: str,
            s: pd.Series, as_of_year: int, method: str,
            coverage: Mapping[int, Mapping[str, Any]], min_full: int, max_rate: float
            ) -> TargetStatus:
    """One status that never claims more than its data (see `target_status`)."""
    reasons: dict[str, str] = {}

    def row(status: str, actual_year: int | None, actual: float | None, met: bool | None,
            projected: float | None, required: float | None, note: str) -> TargetStatus:
        values = {"target_value": target_value, "actual_value": actual, "met_now": met,
                  "projected_value": projected, "required_yearly_change_pct": required}
        for k, v in values.items():
            if v is None and k not in reasons:
                reasons[k] = note or "not computed"
        cov = dict(coverage.get(actual_year, {})) if actual_year is not None else None
        return TargetStatus(
            t.id, t.indicator, phase, eval_year, t.comparator, target_value, basis, t.binding,
            actual_year, actual, met, method, projected, required, status,
            status in ("achieved", "on_track"), note, cov, reasons)

    if target_value is None:
        reasons["target_value"] = basis
    if s.empty:
        reasons["actual_value"] = f"no recorded {t.indicator} up to {min(as_of_year, eval_year)}"
        return row("no_data", None, None, None, None, None, reasons["actual_value"])
    actual_year, actual = int(s.index[-1]), float(s.iloc[-1])
    cov = coverage.get(actual_year, {})
    full = s[[bool(coverage.get(int(y), {}).get("complete")) for y in s.index]]
    if not cov.get("complete"):
        why = "; ".join(cov.get("incomplete_because", [])) or "period not complete"
        reasons["met_now"] = f"{actual_year} is incomplete ({why}): a partial value is not a result"
        projected = None
        note = f"{actual_year} incomplete: {why}"
        if len(full) >= min_full and as_of_year < eval_year:
            projected, pnote = _project_capped(full, eval_year, method, max_rate)
            projected = _cap_share(t, projected)
            note += f"; projection from {len(full)} complete years: {pnote}"
        else:
            reasons["projected_value"] = (f"{len(full)} complete year(s); a projection needs"
                                          f" {min_full}")
        reasons["required_yearly_change_pct"] = reasons["met_now"]
        return row("incomplete", actual_year, actual, None, projected, None, note)
    if target_value is None:
        return row("no_data", actual_year, actual, None, None, None, basis)
    met_now = _meets(actual, target_value, t.comparator)
    if as_of_year >= eval_year:
        if actual_year != eval_year:
            note = f"no complete value for {eval_year}; last value is {actual_year}"
            reasons["met_now"] = note
            return row("no_data", actual_year, actual, None, None, None, note)
        return row("achieved" if met_now else "missed", actual_year, actual, met_now, actual,
                   None, "")
    required = _required(actual, actual_year, target_value, eval_year, met_now)
    if required is None:
        reasons["required_yearly_change_pct"] = "actual or target is not positive"
    if len(full) < min_full:
        note = (f"{len(full)} complete year(s) ({', '.join(str(y) for y in full.index)}); a"
                f" projection needs {min_full}")
        reasons["projected_value"] = note
        return row("insufficient_data", actual_year, actual, met_now, None, required, note)
    projected, note = _project_capped(full, eval_year, method, max_rate)
    projected = _cap_share(t, projected)
    note = f"{note} (fitted on {len(full)} complete years)"
    status = "on_track" if _meets(projected, target_value, t.comparator) else "off_track"
    return row(status, actual_year, actual, met_now, projected, required, note)


def _cap_share(t: Target, value: float) -> float:
    if t.indicator.endswith("_pct"):
        return min(max(value, 0.0), 100.0)
    return max(value, 0.0)

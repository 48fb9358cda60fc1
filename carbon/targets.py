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
    status: str  # achieved | missed | on_track | off_track | no_data
    on_track: bool
    note: str = ""

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
                v = float(getattr(policy, v.removeprefix("policy.")))
                label = f"setting {band.value.removeprefix('policy.')}"
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
) -> list[TargetStatus]:
    """Status of every target in every phase it spans.

    history: yearly indicator values, index = year, columns = indicator names (see
    `carbon.indicators.history_frame`); `energy_tce` selects the core-indicator band.
    In a phase ending before the target year the interim value follows `policy.milestone_rule`
    (linear from the base-year actual to the target). Years after `as_of_year` are ignored.
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
                if met_now:
                    required = 0.0
                elif actual > 0 and target_value > 0:
                    years = eval_year - actual_year
                    required = ((target_value / actual) ** (1.0 / years) - 1.0) * 100.0
                else:
                    required = None
            out.append(TargetStatus(
                t.id, t.indicator, ph.id, eval_year, t.comparator, target_value, basis,
                t.binding, actual_year, actual, met_now, method, projected, required, status,
                status in ("achieved", "on_track"), note))
    return out

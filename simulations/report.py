"""Results on disk and plots for people (matplotlib, Agg backend).

``write_results(result, out_dir)`` writes:
  kpis.json (summary, per-year figures, target status), yearly.csv, targets.csv,
  series.csv (per step, ISO timestamps with offset) or series.parquet, and the plots
  energy_balance_week.png, soc.png, monthly_mix.png, carbon_path.png (see ``PLOT_NAMES``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulations.runner import ScenarioResult

PLOT_NAMES = ("energy_balance_week", "soc", "monthly_mix", "carbon_path")


def typical_week(series: pd.DataFrame) -> pd.DataFrame:
    """The week (Monday start) of the last simulated year whose renewable supply is the median of
    that year's full weeks."""
    last = series[series.index.year == series.index.year.max()]
    renewable = last["pv_mw"] + last["direct_line_mw"]
    week = last.index.tz_localize(None).to_period("W-SUN")
    weeks = renewable.groupby(week).agg(["sum", "size"])
    full = weeks[weeks["size"] == weeks["size"].max()].sort_values("sum", kind="stable")
    return last[week == full.index[len(full) // 2]]


def _balance_week(result: ScenarioResult) -> Figure:
    w = typical_week(result.series)
    t = w.index.tz_localize(None)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    supply = {
        "PV used": w["pv_mw"] - w["pv_curtailed_mw"],
        "direct line": w["direct_line_mw"] - w["direct_curtailed_mw"],
        "storage discharge": w["discharge_mw"],
        "grid import": w["grid_import_mw"],
    }
    ax.stackplot(t, *supply.values(), labels=list(supply), step="post",
                 colors=["#f2b701", "#80ba5a", "#3969ac", "#7f7f7f"], alpha=0.9)
    sinks = {"storage charge": w["charge_mw"], "export": w["grid_export_mw"],
             "curtailed": w["pv_curtailed_mw"] + w["direct_curtailed_mw"]}
    ax.stackplot(t, *[-v for v in sinks.values()], labels=list(sinks), step="post",
                 colors=["#11a579", "#e73f74", "#cccccc"], alpha=0.9)
    ax.step(t, w["load_mw"] + w["storage_aux_mw"], where="post", color="k", lw=1.2, label="load")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("power, MW (supply +, sinks -)")
    ax.set_title(f"{result.scenario.name}: energy balance, typical week {t[0]:%Y-%m-%d}")
    ax.legend(loc="upper left", ncol=4, fontsize=8)
    fig.autofmt_xdate()
    return fig


def _soc(result: ScenarioResult) -> Figure:
    s = result.series
    last = s[s.index.year == s.index.year.max()]
    w = typical_week(s)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 6))
    soc = last["soc_mwh"].copy()
    soc.index = soc.index.tz_localize(None)
    daily = soc.resample("1D").agg(["min", "max", "mean"])
    a1.fill_between(daily.index, daily["min"], daily["max"], color="#3969ac", alpha=0.3,
                    step="post", label="daily range")
    a1.step(daily.index, daily["mean"], where="post", color="#3969ac", lw=1, label="daily mean")
    a1.legend(fontsize=8)
    a1.set_ylabel("SOC, MWh")
    a1.set_title(f"{result.scenario.name}: storage state of charge, {last.index.year[0]}")
    a2.step(w.index.tz_localize(None), w["soc_mwh"], where="post", color="#3969ac")
    a2.set_ylabel("SOC, MWh (typical week)")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _monthly_mix(result: ScenarioResult) -> Figure:
    s = result.series
    last = s[s.index.year == s.index.year.max()]
    dt_h = (last.index[1] - last.index[0]) / pd.Timedelta("1h")
    mix = pd.DataFrame({
        "PV used": last["pv_mw"] - last["pv_curtailed_mw"],
        "direct line": last["direct_line_mw"] - last["direct_curtailed_mw"],
        "grid import": last["grid_import_mw"],
        "export": -last["grid_export_mw"],
        "storage losses": -(last["charge_mw"] - last["discharge_mw"]),
    }).groupby(last.index.month).sum() * dt_h / 1000.0
    fig, ax = plt.subplots(figsize=(10, 4.5))
    bottom_pos = np.zeros(len(mix))
    bottom_neg = np.zeros(len(mix))
    colors = ["#f2b701", "#80ba5a", "#7f7f7f", "#e73f74", "#3969ac"]
    for col, c in zip(mix.columns, colors, strict=True):
        v = mix[col].to_numpy()
        base = np.where(v >= 0, bottom_pos, bottom_neg)
        ax.bar(mix.index, v, bottom=base, label=col, color=c)
        bottom_pos += np.maximum(v, 0)
        bottom_neg += np.minimum(v, 0)
    load = last["load_mw"].groupby(last.index.month).sum() * dt_h / 1000.0
    ax.plot(load.index, load.to_numpy(), "k.-", label="load")
    ax.set_xticks(range(1, 13))
    ax.set_xlabel("month")
    ax.set_ylabel("energy, GWh (supply +, export and losses -)")
    ax.set_title(f"{result.scenario.name}: monthly energy mix, {last.index.year[0]}")
    ax.legend(fontsize=8, ncol=3)
    return fig


def _carbon_path(result: ScenarioResult) -> Figure:
    y = result.yearly
    k = result.kpis["base_year"]
    years = [k["year"], *y.index.tolist()]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 4.5))
    loc = [k["co2_t"], *y["co2_location_based_t"].tolist()]
    mkt = [k["co2_t"], *y["co2_market_based_t"].tolist()]
    x = np.arange(len(years))
    a1.bar(x - 0.2, np.array(loc) / 1000, 0.4, label="location-based", color="#7f7f7f")
    a1.bar(x + 0.2, np.array(mkt) / 1000, 0.4, label="market-based", color="#11a579")
    a1.set_xticks(x, [str(v) for v in years])
    a1.set_ylabel("CO2, kt")
    a1.set_title("CO2 by scope-2 method")
    a1.legend(fontsize=8)
    intensity = [k["energy_intensity_tce_per_10k_yuan"],
                 *y["energy_intensity_tce_per_10k_yuan"].tolist()]
    a2.plot(years, intensity, "o-", color="#3969ac", label="energy intensity")
    t = result.targets
    if len(t):
        sel = t[(t["indicator"] == "energy_intensity_tce_per_10k_yuan")
                & t["target_value"].notna()]
        for r in sel.itertuples():
            a2.plot([r.evaluation_year], [r.target_value], "rv" if r.binding else "m^", ms=9)
            a2.annotate(r.phase, (r.evaluation_year, r.target_value), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    a2.set_ylabel("tce per 10k yuan")
    a2.set_title("energy intensity vs targets (markers)")
    core = [k.get("co2_per_energy_t_per_tce"), *y["co2_per_energy_t_per_tce"].tolist()]
    a3.plot(years, [np.nan if v is None else v for v in core], "o-", color="#11a579",
            label="CO2 per tce")
    if len(t):
        sel = t[(t["indicator"] == "co2_per_energy_t_per_tce") & t["target_value"].notna()]
        for r in sel.itertuples():
            a3.plot([r.evaluation_year], [r.target_value], "rv" if r.binding else "m^", ms=9)
            a3.annotate(r.phase, (r.evaluation_year, r.target_value), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    for ax in (a2, a3):
        ax.plot([], [], "rv", label="binding target")
        ax.plot([], [], "m^", label="guiding target")
        ax.legend(fontsize=8)
    a3.set_ylabel("tCO2 per tce")
    a3.set_title("core indicator vs targets (markers)")
    fig.suptitle(f"{result.scenario.name}: carbon and intensity path")
    fig.tight_layout()
    return fig


_PLOTS: dict[str, Callable[[ScenarioResult], Figure]] = {
    "energy_balance_week": _balance_week, "soc": _soc, "monthly_mix": _monthly_mix,
    "carbon_path": _carbon_path,
}


def plot_png(result: ScenarioResult, name: str) -> bytes:
    """One plot (a name in ``PLOT_NAMES``) as PNG bytes."""
    fig = _PLOTS[name](result)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def series_csv(series: pd.DataFrame) -> bytes:
    """Per-step series as CSV (``time`` = interval start, ISO 8601 with UTC offset)."""
    out = series.copy()
    out.index = out.index.map(lambda ts: ts.isoformat())
    out.index.name = "time"
    return out.to_csv(float_format="%.6g").encode("utf-8")


def kpis_json(kpis: dict[str, Any]) -> str:
    return json.dumps(kpis, ensure_ascii=False, indent=1, allow_nan=False)


def write_results(result: ScenarioResult, out_dir: str | Path,
                  series_format: Literal["csv", "parquet"] = "csv",
                  plots: bool = True) -> dict[str, Path]:
    """Write KPIs, tables, series and plots under ``out_dir``; return {name: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"kpis": out / "kpis.json", "yearly": out / "yearly.csv",
             "targets": out / "targets.csv", "ledgers": out / "ledgers.json"}
    paths["kpis"].write_text(kpis_json(result.kpis), encoding="utf-8")
    # the carbon ledgers with their inputs and every factor used (provenance of each figure)
    paths["ledgers"].write_text(json.dumps({str(y): led for y, led in result.ledgers.items()},
                                           ensure_ascii=False, indent=1, default=float),
                                encoding="utf-8")
    result.yearly.to_csv(paths["yearly"])
    result.targets.to_csv(paths["targets"], index=False)
    if series_format == "parquet":
        paths["series"] = out / "series.parquet"
        result.series.to_parquet(paths["series"])
    else:
        paths["series"] = out / "series.csv"
        paths["series"].write_bytes(series_csv(result.series))
    if plots:
        for name in PLOT_NAMES:
            paths[name] = out / f"{name}.png"
            paths[name].write_bytes(plot_png(result, name))
    return paths

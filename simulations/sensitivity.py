"""One-at-a-time sensitivity of a scenario: how the final year's core indicators and the total
cost move when one input goes to its low or high value (ranges in data/sensitivity.yaml), drawn
as a tornado.

Metrics: ``final_year_co2_per_energy_t_per_tce`` (the zero-carbon park's core indicator),
``final_year_energy_intensity_tce_per_10k_yuan`` and ``total_cost_yuan`` (summed over the
simulated years). Cases run on the sweep machinery (process pool, or serially with workers=1).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from energy.pv import exceedance_factor
from simulations.plot_text import check_lang, plot_style
from simulations.scenario import DATA_DIR, Scenario
from simulations.sweep import run_cases

METRICS = ("final_year_co2_per_energy_t_per_tce", "final_year_energy_intensity_tce_per_10k_yuan",
           "total_cost_yuan")
METRIC_TITLES = {
    "final_year_co2_per_energy_t_per_tce": ("末年单位能耗碳排放，tCO2/tce",
                                            "Final-year CO2 per energy, tCO2/tce"),
    "final_year_energy_intensity_tce_per_10k_yuan": ("末年单位增加值能耗，tce/万元",
                                                     "Final-year energy intensity, tce/10k yuan"),
    "total_cost_yuan": ("总成本，百万元", "Total cost, million yuan"),
}


@lru_cache(maxsize=1)
def sensitivity_ranges() -> dict[str, dict[str, Any]]:
    text = (DATA_DIR / "sensitivity.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text)["parameters"])


def _scale_path(path: Mapping[Any, float], factor: float) -> dict[Any, float]:
    return {k: float(v) * factor for k, v in path.items()}


def vary(data: dict[str, Any], name: str, value: float) -> dict[str, Any] | None:
    """The scenario mapping with parameter ``name`` at ``value`` (see the data file), or None
    when the scenario has nothing that parameter acts on."""
    d = copy.deepcopy(data)
    if name == "grid_factor":
        gef = d.get("grid_emission_factors") or {}
        if not gef.get("location_tco2_per_mwh") and not gef.get("residual_tco2_per_mwh"):
            return None
        for key in ("location_tco2_per_mwh", "residual_tco2_per_mwh"):
            if gef.get(key):
                gef[key] = _scale_path(gef[key], value)
        d["grid_emission_factors"] = gef
    elif name == "load_growth":
        load = d["load"]
        parts = load["segments"] if load.get("kind", "synthetic") == "synthetic" else [load]
        for part in parts:
            part["growth_pct_per_year"] = float(part.get("growth_pct_per_year", 0.0)) + value
    elif name == "value_added_growth":
        va = d["value_added"]
        if va.get("base_10k_yuan") is None:
            return None
        va["growth_pct_per_year"] = float(va.get("growth_pct_per_year", 0.0)) + value
    elif name == "certificate_price":
        gc = d.setdefault("green_certificates", {})
        if not gc.get("mwh_by_year"):
            return None
        gc["price_yuan_per_mwh"] = float(gc.get("price_yuan_per_mwh", 0.0)) * value
    elif name == "pv_yield":
        if not d.get("pv"):
            return None
        # value: the exceedance probability, % (90 = P90; 50 = the typical year)
        d["pv_scale"] = float(d.get("pv_scale", 1.0)) * exceedance_factor(value)
    elif name == "storage_efficiency":
        if not d.get("storage"):
            return None
        from energy.storage import default_station

        for unit in d["storage"]:
            params = unit.setdefault("parameters", {})
            spec = default_station().with_(**params)
            params["eta_charge"] = min(max(spec.eta_charge + value, 0.01), 1.0)
            params["eta_discharge"] = min(max(spec.eta_discharge + value, 0.01), 1.0)
    else:
        raise KeyError(f"unknown sensitivity parameter {name!r}")
    return d


def sensitivity_cases(scenario: Scenario) -> list[dict[str, Any]]:
    """The base case (case 0) and a low and a high case per applicable parameter."""
    base = scenario.to_dict()
    cases = [{"case": 0, "values": {"parameter": "base", "side": "base", "factor": None},
              "scenario": base}]
    for name, spec in sensitivity_ranges().items():
        for side in ("low", "high"):
            data = vary(base, name, float(spec[side]))
            if data is None:
                continue
            data["name"] = f"{scenario.name}-sens-{name}-{side}"
            cases.append({"case": len(cases),
                          "values": {"parameter": name, "side": side,
                                     "factor": float(spec[side])},
                          "scenario": data})
    return cases


def run_sensitivity(scenario: Scenario, workers: int | None = 1) -> pd.DataFrame:
    """One row per case (base first): parameter, side, factor, the metrics and their change
    against the base (``delta_<metric>``)."""
    table = run_cases(sensitivity_cases(scenario), workers=workers)
    failed = table[table["status"] != "done"]
    if len(failed):
        raise RuntimeError("sensitivity cases failed: " + "; ".join(
            f"{r.parameter} {r.side}: {r.error}" for r in failed.itertuples()))
    base = table.loc[table["parameter"] == "base"].iloc[0]
    out = table[["case", "parameter", "side", "factor", *METRICS]].copy()
    for m in METRICS:
        out[f"delta_{m}"] = out[m].astype(float) - float(base[m])
    return out.reset_index(drop=True)


TORNADO_PLOTS = {f"tornado_{m}": m for m in METRICS}
"""Plot names of the tornado of each metric."""


def sensitivity_csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False).encode("utf-8")


def write_sensitivity(table: pd.DataFrame, out_dir: str | Path, lang: str = "zh"
                      ) -> dict[str, Path]:
    """Write sensitivity.csv and one tornado PNG per metric under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"sensitivity": out / "sensitivity.csv"}
    paths["sensitivity"].write_bytes(sensitivity_csv(table))
    for name, metric in TORNADO_PLOTS.items():
        paths[name] = out / f"{name}.png"
        paths[name].write_bytes(tornado_png(table, metric, lang))
    return paths


def tornado_png(table: pd.DataFrame, metric: str = "final_year_co2_per_energy_t_per_tce",
                lang: str = "zh") -> bytes:
    """The tornado of ``metric``: one bar per parameter from its low to its high case, widest
    on top, around the base value."""
    import matplotlib

    matplotlib.use("Agg")
    zh = lang == "zh"
    titles = sensitivity_ranges()
    with plot_style(check_lang(lang)):
        return _tornado(table, metric, zh, titles)


def _tornado(table: pd.DataFrame, metric: str, zh: bool,
             titles: dict[str, dict[str, Any]]) -> bytes:
    import matplotlib.pyplot as plt

    scale = 1e-6 if metric == "total_cost_yuan" else 1.0
    base = float(table.loc[table["parameter"] == "base", metric].iloc[0]) * scale
    rows = []
    for name, grp in table[table["parameter"] != "base"].groupby("parameter", sort=False):
        vals = {r.side: float(getattr(r, metric)) * scale for r in grp.itertuples()}
        lo, hi = vals.get("low", base), vals.get("high", base)
        rows.append((titles[str(name)]["title_zh" if zh else "title_en"], lo, hi))
    rows.sort(key=lambda r: abs(r[2] - r[1]))
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.6))
    y = np.arange(len(rows))
    for i, (_, lo, hi) in enumerate(rows):
        ax.barh(i, lo - base, left=base, color="#3b82c4",
                label=("低值" if zh else "low") if i == 0 else None)
        ax.barh(i, hi - base, left=base, color="#e8833a",
                label=("高值" if zh else "high") if i == 0 else None)
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlabel(METRIC_TITLES[metric][0 if zh else 1])
    ax.set_title("敏感性分析（单因素）" if zh else "One-at-a-time sensitivity")
    ax.legend(loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()

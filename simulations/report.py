"""Results on disk and plots for people (matplotlib, Agg backend).

``write_results(result, out_dir)`` writes:
  kpis.json (summary, per-year figures, target status), yearly.csv, targets.csv,
  series.csv (per step, ISO timestamps with offset) or series.parquet, and the plots
  energy_balance_week.png, soc.png, monthly_mix.png, carbon_path.png (see ``PLOT_NAMES``),
  labelled in Chinese (``lang='zh'``, default, with a CJK font) or English (``lang='en'``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from carbon.targets import load_phases
from simulations.plot_text import DEFAULT_LANG, Lang, check_lang, phase_label, plot_style, text
from simulations.runner import ScenarioResult

PLOT_NAMES = ("energy_balance_week", "soc", "monthly_mix", "carbon_path")


def _times(frame: pd.DataFrame | pd.Series) -> pd.DatetimeIndex:
    """The DatetimeIndex of a simulated series."""
    return cast(pd.DatetimeIndex, frame.index)


def typical_week(series: pd.DataFrame) -> pd.DataFrame:
    """The week (Monday start) of the last simulated year whose renewable supply is the median of
    that year's full weeks."""
    last = series[_times(series).year == _times(series).year.max()]
    renewable = last["pv_mw"] + last["direct_line_mw"]
    week = _times(last).tz_localize(None).to_period("W-SUN")
    weeks = renewable.groupby(week).agg(["sum", "size"])
    full = weeks[weeks["size"] == weeks["size"].max()].sort_values("sum", kind="stable")
    week_frame: pd.DataFrame = last[week == full.index[len(full) // 2]]
    return week_frame


def _phases(result: ScenarioResult) -> tuple[Any, ...]:
    """The scenario's phases (its own, else the plan's), in order."""
    if result.scenario.phases is not None:
        return tuple(result.scenario.phases)
    return load_phases()[1]


def _day_axis(ax: Axes, lang: Lang, *, daily: bool) -> None:
    """Dated x axis: one tick a day (typical week) or a month (a year), labelled in ``lang``."""
    if daily:
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m月%d日" if lang == "zh"
                                                          else "%a %d %b"))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m月" if lang == "zh" else "%b"))
    ax.tick_params(axis="x", labelsize=8)


def _week_span(t: pd.DatetimeIndex) -> dict[str, str]:
    return {"start": f"{t[0]:%Y-%m-%d}", "end": f"{t[-1]:%Y-%m-%d}"}


def _balance_week(result: ScenarioResult, lang: Lang) -> Figure:
    w = typical_week(result.series)
    t = _times(w).tz_localize(None)
    fig, ax = plt.subplots(figsize=(11, 4.8))
    supply = {
        text("pv_used", lang): w["pv_mw"] - w["pv_curtailed_mw"],
        text("direct_line", lang): w["direct_line_mw"] - w["direct_curtailed_mw"],
        text("discharge", lang): w["discharge_mw"],
        text("grid_import", lang): w["grid_import_mw"],
    }
    ax.stackplot(t, *supply.values(), labels=list(supply), step="post",
                 colors=["#f2b701", "#80ba5a", "#3969ac", "#7f7f7f"], alpha=0.9)
    sinks = {text("charge", lang): w["charge_mw"], text("export", lang): w["grid_export_mw"],
             text("curtailed", lang): w["pv_curtailed_mw"] + w["direct_curtailed_mw"]}
    ax.stackplot(t, *[-v for v in sinks.values()], labels=list(sinks), step="post",
                 colors=["#11a579", "#e73f74", "#cccccc"], alpha=0.9)
    ax.step(t, w["load_mw"] + w["storage_aux_mw"], where="post", color="k", lw=1.2,
            label=text("load", lang))
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel(text("power_axis", lang))
    ax.set_xlabel(text("date_axis", lang))
    _day_axis(ax, lang, daily=True)
    ax.set_title(text("balance_title", lang, name=result.scenario.name, **_week_span(t)))
    ax.legend(loc="upper left", ncol=4, fontsize=8)
    fig.tight_layout()
    return fig


def _soc(result: ScenarioResult, lang: Lang) -> Figure:
    s = result.series
    last = s[_times(s).year == _times(s).year.max()]
    w = typical_week(s)
    year = int(_times(last).year[0])
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 6.5))
    soc = last["soc_mwh"].copy()
    soc.index = _times(soc).tz_localize(None)
    daily = soc.resample("1D").agg(["min", "max", "mean"])
    a1.fill_between(daily.index, daily["min"], daily["max"], color="#3969ac", alpha=0.3,
                    step="post", label=text("daily_range", lang))
    a1.step(daily.index, daily["mean"], where="post", color="#3969ac", lw=1,
            label=text("daily_mean", lang))
    a1.legend(fontsize=8)
    a1.set_ylabel(text("soc_axis", lang))
    a1.set_xlabel(text("month_axis", lang, year=year))
    _day_axis(a1, lang, daily=False)
    a1.set_title(text("soc_title", lang, name=result.scenario.name, year=year))
    tw = _times(w).tz_localize(None)
    a2.step(tw, w["soc_mwh"], where="post", color="#3969ac")
    a2.set_ylabel(text("soc_axis", lang))
    a2.set_xlabel(text("date_axis", lang))
    a2.set_title(text("soc_week", lang, **_week_span(tw)), fontsize=10)
    _day_axis(a2, lang, daily=True)
    fig.tight_layout()
    return fig


def _monthly_mix(result: ScenarioResult, lang: Lang) -> Figure:
    s = result.series
    last = s[_times(s).year == _times(s).year.max()]
    year = int(_times(last).year[0])
    dt_h = (last.index[1] - last.index[0]) / pd.Timedelta("1h")
    mix = pd.DataFrame({
        text("pv_used", lang): last["pv_mw"] - last["pv_curtailed_mw"],
        text("direct_line", lang): last["direct_line_mw"] - last["direct_curtailed_mw"],
        text("grid_import", lang): last["grid_import_mw"],
        text("export", lang): -last["grid_export_mw"],
        text("storage_losses", lang): -(last["charge_mw"] - last["discharge_mw"]),
    }).groupby(_times(last).month).sum() * dt_h / 1000.0
    fig, ax = plt.subplots(figsize=(10, 4.8))
    bottom_pos = np.zeros(len(mix))
    bottom_neg = np.zeros(len(mix))
    colors = ["#f2b701", "#80ba5a", "#7f7f7f", "#e73f74", "#3969ac"]
    for col, c in zip(mix.columns, colors, strict=True):
        v = mix[col].to_numpy()
        base = np.where(v >= 0, bottom_pos, bottom_neg)
        ax.bar(mix.index, v, bottom=base, label=col, color=c)
        bottom_pos += np.maximum(v, 0)
        bottom_neg += np.minimum(v, 0)
    load = last["load_mw"].groupby(_times(last).month).sum() * dt_h / 1000.0
    ax.plot(load.index, load.to_numpy(), "k.-", label=text("load", lang))
    ax.set_xticks(range(1, 13), text("month_ticks", lang).split())
    ax.set_xlabel(text("month_axis", lang, year=year))
    ax.set_ylabel(text("energy_axis", lang))
    ax.set_title(text("mix_title", lang, name=result.scenario.name, year=year))
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return fig


def _target_markers(ax: Axes, result: ScenarioResult, indicator: str, lang: Lang) -> None:
    """Target values as markers (binding ▼ red, guiding ▲ magenta), named by phase and value."""
    t = result.targets
    if not len(t):
        return
    phases = _phases(result)
    sel = t[(t["indicator"] == indicator) & t["target_value"].notna()].drop_duplicates(
        ["phase", "evaluation_year", "comparator", "target_value", "binding"])
    last_year = int(result.yearly.index.max())
    r: Any  # one target row
    for r in sel.itertuples():
        ax.plot([r.evaluation_year], [r.target_value], "rv" if r.binding else "m^", ms=9)
        right = r.evaluation_year >= last_year  # keep the label inside the axes: left, below
        ax.annotate(f"{phase_label(r.phase, phases, lang)} {r.comparator} {r.target_value:.3g}",
                    (r.evaluation_year, r.target_value), fontsize=7,
                    xytext=(-6, -12) if right else (6, 6), textcoords="offset points",
                    ha="right" if right else "left")
    ax.margins(y=0.12)


def _carbon_path(result: ScenarioResult, lang: Lang) -> Figure:
    y = result.yearly
    k = result.kpis["base_year"]
    years = [k["year"], *y.index.tolist()]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 5))
    loc = [k["co2_t"], *y["co2_location_based_t"].tolist()]
    mkt = [k["co2_t"], *y["co2_market_based_t"].tolist()]
    x = np.arange(len(years))
    a1.bar(x - 0.2, np.array(loc) / 1000, 0.4, label=text("location_based", lang),
           color="#7f7f7f")
    a1.bar(x + 0.2, np.array(mkt) / 1000, 0.4, label=text("market_based", lang), color="#11a579")
    a1.set_xticks(x, [str(v) for v in years])
    a1.set_ylabel(text("co2_axis", lang))
    a1.set_title(text("co2_title", lang))
    a1.legend(fontsize=8)
    intensity = [k["energy_intensity_tce_per_10k_yuan"],
                 *y["energy_intensity_tce_per_10k_yuan"].tolist()]
    a2.plot(years, intensity, "o-", color="#3969ac", label=text("intensity", lang))
    _target_markers(a2, result, "energy_intensity_tce_per_10k_yuan", lang)
    a2.set_ylabel(text("intensity_axis", lang))
    a2.set_title(text("intensity_title", lang))
    core = [k.get("co2_per_energy_t_per_tce"), *y["co2_per_energy_t_per_tce"].tolist()]
    a3.plot(years, [np.nan if v is None else v for v in core], "o-", color="#11a579",
            label=text("core", lang))
    _target_markers(a3, result, "co2_per_energy_t_per_tce", lang)
    for ax in (a2, a3):
        ax.plot([], [], "rv", label=text("binding", lang))
        ax.plot([], [], "m^", label=text("guiding", lang))
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (a1, a2, a3):
        ax.set_xlabel(text("year_axis", lang))
    a3.set_ylabel(text("core_axis", lang))
    a3.set_title(text("core_title", lang))
    fig.suptitle(text("carbon_title", lang, name=result.scenario.name))
    fig.tight_layout()
    return fig


_PLOTS: dict[str, Callable[[ScenarioResult, Lang], Figure]] = {
    "energy_balance_week": _balance_week, "soc": _soc, "monthly_mix": _monthly_mix,
    "carbon_path": _carbon_path,
}


def plot_figure(result: ScenarioResult, name: str, lang: str = DEFAULT_LANG) -> Figure:
    """One plot as a matplotlib Figure (for tests and callers that embed it); close it after."""
    lg = check_lang(lang)
    with plot_style(lg):
        return _PLOTS[name](result, lg)


def plot_png(result: ScenarioResult, name: str, lang: str = DEFAULT_LANG) -> bytes:
    """One plot (a name in ``PLOT_NAMES``) as PNG bytes, labelled in ``lang`` ('zh' or 'en')."""
    lg = check_lang(lang)
    with plot_style(lg):
        fig = _PLOTS[name](result, lg)
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
                  plots: bool = True, lang: str = DEFAULT_LANG) -> dict[str, Path]:
    """Write KPIs, tables, series and plots (labelled in ``lang``: 'zh' or 'en') under
    ``out_dir``; return {name: path}."""
    check_lang(lang)
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
            paths[name].write_bytes(plot_png(result, name, lang))
    return paths

"""Plots for people: Chinese (default) and English labels, human phase names, dated axes, Pareto
points named by their swept values; through the library, the CLI and the scenario API."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from matplotlib.figure import Figure
from typer.testing import CliRunner

from app.cli import cli
from simulations import PLOT_NAMES, parse_scenario, run_scenario
from simulations.plot_text import cjk_family
from simulations.report import plot_figure, plot_png
from simulations.sweep import pareto_figure, pareto_png
from tests.conftest import auth, unique

CJK = re.compile(r"[\u4e00-\u9fff]")
SCENARIO: dict[str, Any] = {
    "name": "plots-case",
    "start_year": 2028, "end_year": 2029,
    "load": {"kind": "synthetic",
             "segments": [{"industry": "data_centre", "base_energy_mwh": 50_000}]},
    "pv": [{"year": 2027, "capacity_kwp": 10_000}],
    "storage": [{"power_mw": 5, "energy_mwh": 20, "in_service_year": 2028}],
    "value_added": {"base_10k_yuan": 80_000},
}


@pytest.fixture(scope="module")
def result():  # one small run shared by the library tests
    return run_scenario(parse_scenario(SCENARIO))


def texts(fig: Figure) -> dict[str, list[str]]:
    """The figure's words after drawing: titles, axis labels, tick labels, legends, notes."""
    fig.canvas.draw()
    out: dict[str, list[str]] = {"labels": [t.get_text() for t in fig.texts], "ticks": [],
                                 "notes": []}
    for ax in fig.axes:
        out["labels"] += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        out["ticks"] += [t.get_text() for t in ax.get_xticklabels()]
        out["notes"] += [t.get_text() for t in ax.texts]
        if ax.get_legend():
            out["labels"] += [t.get_text() for t in ax.get_legend().get_texts()]
    out["labels"] = [t for t in out["labels"] if t]
    return out


@pytest.mark.parametrize("name", PLOT_NAMES)
def test_chinese_by_default_english_on_request(result, name: str) -> None:
    zh = plot_figure(result, name)
    en = plot_figure(result, name, "en")
    try:
        tz, te = texts(zh), texts(en)
    finally:
        plt.close(zh)
        plt.close(en)
    # every title, axis label and legend entry is Chinese; none of the English ones is
    assert all(CJK.search(t) for t in tz["labels"] if t != result.scenario.name), tz["labels"]
    assert not any(CJK.search(t) for t in te["labels"]), te["labels"]
    assert any("MW" in t or "GWh" in t or "CO" in t or "tce" in t for t in te["labels"])
    assert plot_png(result, name)[:8] == b"\x89PNG\r\n\x1a\n"


def test_target_markers_carry_phase_titles_not_ids(result) -> None:
    zh = plot_figure(result, "carbon_path", "zh")
    en = plot_figure(result, "carbon_path", "en")
    try:
        nz, ne = texts(zh)["notes"], texts(en)["notes"]
    finally:
        plt.close(zh)
        plt.close(en)
    assert nz and ne
    assert not any("phase_" in t for t in nz + ne)
    # the plan's phases (carbon/data/phases.yaml): 2026-2028 and 2029-2030
    assert any(t.startswith("第一阶段（2026–2028）") for t in nz), nz
    assert any(t.startswith("第二阶段（2029–2030）") for t in nz), nz
    assert any(t.startswith("Phase 1 (2026–2028)") for t in ne), ne
    assert all(re.search(r"(<=|>=) [0-9.]+$", t) for t in nz + ne)  # comparator and value


def test_soc_plot_has_dates_on_both_panels(result) -> None:
    for lang, month, day in (("zh", r"^\d\d月$", r"^\d\d月\d\d日$"),
                             ("en", r"^[A-Z][a-z]{2}$", r"^[A-Z][a-z]{2} \d\d [A-Z][a-z]{2}$")):
        fig = plot_figure(result, "soc", lang)
        try:
            fig.canvas.draw()
            top, week = fig.axes
            top_ticks = [t.get_text() for t in top.get_xticklabels()]
            week_ticks = [t.get_text() for t in week.get_xticklabels()]
        finally:
            plt.close(fig)
        assert len(top_ticks) >= 12 and all(re.match(month, t) for t in top_ticks), top_ticks
        assert len(week_ticks) >= 7 and all(re.match(day, t) for t in week_ticks), week_ticks


def test_a_cjk_font_is_used_when_installed() -> None:
    from matplotlib import font_manager

    installed = any("CJK" in Path(p).name for p in font_manager.findSystemFonts())
    if not installed:
        pytest.skip("no CJK font on this machine (Debian: fonts-noto-cjk)")
    assert cjk_family() is not None


def test_pareto_points_named_by_their_swept_values() -> None:
    table = pd.DataFrame([
        {"case": 0, "pv_scale": 0.5, "storage.0.power_mw": 0, "storage.0.energy_mwh": 0,
         "dispatch.strategy": "optimal", "total_cost_yuan": 9e8, "total_co2_t": 5e5,
         "status": "done", "feasible": True, "pareto": True},
        {"case": 1, "pv_scale": 1.0, "storage.0.power_mw": 63, "storage.0.energy_mwh": 252,
         "dispatch.strategy": "rule", "total_cost_yuan": 1e9, "total_co2_t": 4e5,
         "status": "done", "feasible": True, "pareto": True},
        {"case": 2, "pv_scale": 0.0, "storage.0.power_mw": 0, "storage.0.energy_mwh": 0,
         "dispatch.strategy": "optimal", "total_cost_yuan": 8e8, "total_co2_t": 7e5,
         "status": "done", "feasible": False, "pareto": False},
    ])
    zh, en = pareto_figure(table, "网格", "zh"), pareto_figure(table, "grid", "en")
    try:
        notes_zh, notes_en = texts(zh)["notes"], texts(en)["notes"]
        labels_zh = texts(zh)["labels"]
    finally:
        plt.close(zh)
        plt.close(en)
    assert sorted(notes_zh) == ["方案0：光伏×0.5，无储能，优化调度",
                                "方案1：光伏×1，储能 63 MW/252 MWh，规则调度"]
    assert sorted(notes_en) == ["case 0: PV ×0.5, no storage, optimal dispatch",
                                "case 1: PV ×1, storage 63 MW/252 MWh, rule dispatch"]
    assert any("帕累托前沿" in t for t in labels_zh)
    assert pareto_png(table, "grid", "en")[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_lang_option(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({**SCENARIO, "start_year": 2029, "end_year": 2029}),
                    encoding="utf-8")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["simulate", str(path), "--out", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert (out / "soc.png").stat().st_size > 10_000
    bad = CliRunner().invoke(cli, ["simulate", str(path), "--lang", "fr"])
    assert bad.exit_code == 2 and "zh or en" in bad.output


def test_scenario_api_serves_both_languages(client: TestClient,
                                            make_app: Callable[..., FastAPI],
                                            make_key: Callable[..., str]) -> None:
    planner = auth(make_key("planner"))
    body = {**SCENARIO, "name": unique("plots"), "start_year": 2029, "end_year": 2029}
    run = client.post("/v1/scenarios", json=body, headers=planner).json()
    with TestClient(make_app(scheduler_enabled=True, scenario_poll_seconds=0.2)) as worker:
        deadline = time.monotonic() + 120
        while worker.get(f"/v1/scenarios/{run['id']}", headers=planner).json()["status"] \
                not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
    url = f"/v1/scenarios/{run['id']}/plots/soc"
    zh = client.get(url, headers=planner)
    default = client.get(url, params={"lang": "zh"}, headers=planner)
    en = client.get(url, params={"lang": "en"}, headers=planner)
    assert zh.status_code == en.status_code == 200
    assert zh.content == default.content != en.content
    assert en.content[:8] == b"\x89PNG\r\n\x1a\n"
    bad = client.get(url, params={"lang": "fr"}, headers=planner)
    assert bad.status_code == 422

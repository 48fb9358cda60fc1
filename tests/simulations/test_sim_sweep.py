"""Sweeps: the same numbers serially, on the process pool and on Dask; the Pareto front."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from simulations import mark_pareto, parse_sweep, run_sweep, write_sweep

BASE = {
    "name": "sw",
    "start_year": 2029, "end_year": 2029,
    "load": {"kind": "synthetic",
             "segments": [{"industry": "manufacturing_day", "base_energy_mwh": 150_000}]},
    "pv": [{"year": 2026, "capacity_kwp": 50_000}],
    "value_added": {"base_10k_yuan": 300_000},
}
GRID = {"pv_scale": [0.0, 1.0],
        "storage.0.power_mw,storage.0.energy_mwh": [[0, 0], [20, 80]]}
COMPARED = ["case", "pv_scale", "storage.0.energy_mwh", "total_cost_yuan", "total_co2_t",
            "status", "pareto"]


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    return run_sweep(parse_sweep({"scenario": BASE, "grid": GRID}), workers=1)


def test_serial_sweep_covers_the_grid_and_marks_the_front(serial: pd.DataFrame) -> None:
    assert list(serial["status"]) == ["done"] * 4
    assert list(zip(serial["pv_scale"], serial["storage.0.energy_mwh"], strict=True)) == [
        (0.0, 0), (0.0, 80), (1.0, 0), (1.0, 80)]
    # PV lowers the CO2 whatever the storage
    assert serial.loc[2, "total_co2_t"] < serial.loc[0, "total_co2_t"]
    front = serial[serial["pareto"]]
    assert len(front) >= 1
    for r in serial.itertuples():  # nothing on the front is dominated by any case
        if r.pareto:
            assert not ((serial["total_cost_yuan"] <= r.total_cost_yuan)
                        & (serial["total_co2_t"] <= r.total_co2_t)
                        & ((serial["total_cost_yuan"] < r.total_cost_yuan)
                           | (serial["total_co2_t"] < r.total_co2_t))).any()


def test_process_pool_gives_the_serial_numbers(serial: pd.DataFrame) -> None:
    pooled = run_sweep(parse_sweep({"scenario": BASE, "grid": GRID}), workers=2)
    pd.testing.assert_frame_equal(pooled[COMPARED], serial[COMPARED])


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                    reason="dask.distributed not installed (the optional `dask` extra)")
def test_dask_gives_the_serial_numbers(serial: pd.DataFrame) -> None:
    from dask.distributed import LocalCluster

    spec = parse_sweep({"scenario": BASE, "grid": GRID})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        table = run_sweep(spec, executor="dask", scheduler_address=cluster.scheduler_address)
    pd.testing.assert_frame_equal(table[COMPARED], serial[COMPARED])


def test_failed_case_is_kept_with_its_error() -> None:
    base = {**BASE, "grid": {"import_limit_mw": 10}, "storage": []}
    table = run_sweep(parse_sweep({"scenario": base, "grid": {"pv_scale": [1.0]}}), workers=1)
    assert table.loc[0, "status"] == "failed"
    assert "import limit" in table.loc[0, "error"]
    assert not table["pareto"].any()


def test_pareto_front_by_hand() -> None:
    # (cost, co2): A (1, 9) B (2, 5) C (3, 5) D (4, 1) E (5, 6): C is dominated by B (same CO2,
    # dearer), E by B and by D; A, B and D form the front.
    t = pd.DataFrame({"case": range(5), "total_cost_yuan": [1, 2, 3, 4, 5],
                      "total_co2_t": [9, 5, 5, 1, 6], "status": ["done"] * 5})
    assert list(mark_pareto(t)["pareto"]) == [True, True, False, True, False]


def test_write_sweep(serial: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_sweep(serial, tmp_path, "test")
    assert len(pd.read_csv(paths["results"])) == 4
    assert paths["pareto"].read_bytes()[:4] == b"\x89PNG"


def test_front_is_drawn_over_feasible_cases_only(tmp_path: Path) -> None:
    # The same five cases; A (1, 9) and D (4, 1) now miss a binding target. Among the feasible
    # B (2, 5), C (3, 5), E (5, 6): B dominates both, so the front is B alone, and C, which A
    # and D no longer shadow, stays off it because B beats it.
    t = pd.DataFrame({"case": range(5), "total_cost_yuan": [1, 2, 3, 4, 5],
                      "total_co2_t": [9, 5, 5, 1, 6], "status": ["done"] * 5,
                      "binding_targets_missed": [1, 0, 0, 2, 0]})
    marked = mark_pareto(t)
    assert list(marked["feasible"]) == [False, True, True, False, True]
    assert list(marked["pareto"]) == [False, True, False, False, False]
    paths = write_sweep(marked, tmp_path, "feasibility")
    assert pd.read_csv(paths["results"])["feasible"].tolist() == [False, True, True, False, True]

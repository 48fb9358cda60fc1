"""The site-load identity and the unit constants have one home each, and every user agrees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carbon import InputError, compute_ledger
from carbon.scope2 import allocate_electricity
from energy.balance import site_load
from energy.units import KW_PER_MW, KWH_PER_MWH, conversion_factor
from simulations.runner import electricity_shares


def test_site_load_of_a_month_by_hand() -> None:
    # 1.2 GWh imported, 300 MWh of PV, 50 MWh exported: 1,450 MWh used on site
    assert site_load(1.2e6, 3.0e5, 5.0e4) == pytest.approx(1.45e6)


def test_site_load_keeps_the_shape_of_arrays_and_series() -> None:
    index = pd.date_range("2026-06-01", periods=3, freq="h", tz="Asia/Shanghai")
    imp = pd.Series([2.0, 0.5, 0.0], index=index)
    pv = pd.Series([0.0, 1.0, 3.0], index=index)
    exp = pd.Series([0.0, 0.0, 1.0], index=index)
    load = site_load(imp, pv, exp)
    assert isinstance(load, pd.Series)
    assert load.index.equals(index)
    assert load.tolist() == pytest.approx([2.0, 1.5, 2.0])
    arr = site_load(imp.to_numpy(), pv.to_numpy(), exp.to_numpy())
    assert isinstance(arr, np.ndarray)
    assert arr.tolist() == pytest.approx([2.0, 1.5, 2.0])


def test_ledger_scope2_and_runner_count_the_same_consumption() -> None:
    imp, pv, exp = 800_000.0, 150_000.0, 20_000.0
    expected = imp + pv - exp
    ledger = compute_ledger({"electricity_import_kwh": imp, "pv_generation_kwh": pv,
                             "electricity_export_kwh": exp}, period="2024")
    assert ledger.electricity_consumed_kwh == pytest.approx(expected)
    s2 = allocate_electricity(
        import_kwh=imp, export_kwh=exp, pv_generation_kwh=pv, instruments_mwh={},
        instrument_order=(), export_netting=True, direct_green_zero_in_location_based=False,
        location_factor_t_per_mwh=0.5, residual_factor_t_per_mwh=0.6)
    # PV used plus grid electricity is the electricity consumed
    assert s2.pv_consumed_kwh + s2.grid_basis_kwh == pytest.approx(expected)
    shares = electricity_shares({"pv_used_mwh": pv / KWH_PER_MWH, "direct_delivered_mwh": 0.0,
                                 "grid_import_mwh": imp / KWH_PER_MWH,
                                 "grid_export_mwh": exp / KWH_PER_MWH})
    assert shares["electricity_consumed_mwh"] * KWH_PER_MWH == pytest.approx(expected)


def test_export_above_import_and_pv_is_refused_by_the_ledger() -> None:
    with pytest.raises(InputError, match="exceeds import"):
        compute_ledger({"electricity_import_kwh": 10.0, "pv_generation_kwh": 5.0,
                        "electricity_export_kwh": 20.0}, period="2024")


def test_unit_constants_come_from_the_units_table() -> None:
    assert conversion_factor("MWh", "kWh") == KWH_PER_MWH == 1000.0
    assert conversion_factor("MW", "kW") == KW_PER_MW == 1000.0

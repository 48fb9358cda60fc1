"""Shares are of consumption: exported renewable electricity is reported apart, never counted as
used, so a renewable share cannot exceed 100 %."""

from __future__ import annotations

import pytest

from simulations import parse_scenario, run_scenario
from simulations.runner import electricity_shares
from tests.simulations.test_sim_runner import flat_scenario


def test_share_by_hand_with_exports() -> None:
    e = {"pv_used_mwh": 100.0, "direct_delivered_mwh": 20.0, "grid_import_mwh": 50.0,
         "grid_export_mwh": 30.0}
    s = electricity_shares(e)
    assert s["electricity_consumed_mwh"] == pytest.approx(140.0)
    assert s["renewable_used_on_site_mwh"] == pytest.approx(90.0)
    assert s["renewable_exported_mwh"] == pytest.approx(30.0)
    assert s["renewable_electricity_share_pct"] == pytest.approx(100 * 90 / 140)


def test_oversized_pv_exports_and_the_share_stays_below_100() -> None:
    """A 10 MW flat load with 60 MWp of PV exports most of its midday surplus."""
    pv = [{"year": 2026, "capacity_kwp": 60_000, "tilt_deg": 25}]
    result = run_scenario(parse_scenario(flat_scenario(pv=pv, end_year=2026)))
    row = result.yearly.loc[2026]
    assert row["grid_export_mwh"] > 10_000  # the case really exports
    on_site = row["pv_used_mwh"] + row["direct_delivered_mwh"] - row["grid_export_mwh"]
    consumed = on_site + row["grid_import_mwh"]
    assert row["renewable_electricity_share_pct"] == pytest.approx(100 * on_site / consumed)
    assert 0 < row["renewable_electricity_share_pct"] < 100
    assert row["renewable_exported_mwh"] == pytest.approx(row["grid_export_mwh"])
    assert result.kpis["summary"]["final_year_renewable_exported_mwh"] == pytest.approx(
        row["grid_export_mwh"])

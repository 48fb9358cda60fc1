"""The demo park's carbon data give the park every indicator (no None from a missing input)."""

from __future__ import annotations

import pytest

from app.demo import DEMO_LOADERS, ENTERPRISES
from app.demo.carbon import _records, demo_data, load_carbon_base_year, load_carbon_demo
from app.services.carbon import ACTIVITY_QUANTITIES, OPTIONAL_QUANTITIES


def test_every_enterprise_records_every_indicator_input_for_both_years():
    data = demo_data()
    records = _records(data)
    assert {r["quantity"] for r in records} <= set(ACTIVITY_QUANTITIES)
    codes = [code for code, *_ in ENTERPRISES]
    for year in (data["base_year"], 2026):
        for code in codes:
            got = {r["quantity"] for r in records
                   if r["enterprise"] == code and str(r["period"]).startswith(str(year))}
            # combine_activities keeps a park quantity only when every enterprise recorded it
            assert OPTIONAL_QUANTITIES - {"solid_waste_utilised_from_storage_t"} <= got, (
                code, year)
    # a yearly total spread over months adds up exactly: 50,000 / 12 x 11 + remainder
    qz = [r["value"] for r in records if r["enterprise"] == "QZ-WATER"
          and r["quantity"] == "value_added_10k_yuan" and r["period"].startswith("2026-")]
    assert len(qz) == 12 and sum(qz) == pytest.approx(50000, rel=1e-12)
    assert DEMO_LOADERS.index(load_carbon_base_year) < DEMO_LOADERS.index(load_carbon_demo)

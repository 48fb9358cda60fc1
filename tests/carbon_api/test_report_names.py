"""The monthly report names carriers, targets, phases and statuses in its language, never by key."""

from __future__ import annotations

import re

import pytest

from tests.conftest import auth

RAW = re.compile(r"\b(electricity_import|natural_gas|pv_generation|energy_intensity_2030|"
                 r"core_co2_per_energy|clean_energy_share|phase_1|phase_2|no_data|on_track|"
                 r"off_track)\b")


@pytest.mark.parametrize("lang, words", [("zh", ["电力", "天然气"]),
                                         ("en", ["Electricity", "Natural gas"])])
def test_report_names_things_in_its_language(client, operator_key, make_enterprise, make_meter,
                                             lang, words):
    ent = make_enterprise()["code"]
    for carrier, value in (("electricity_import", 100.0), ("natural_gas", 5.0)):
        m = make_meter(ent, carrier)["code"]
        r = client.post("/v1/readings", content=f"meter,ts,value\n{m},2024-05-06T10:00:00+08:00,"
                        f"{value}\n", headers={**auth(operator_key), "Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
    r = client.get("/v1/carbon/report", params={"period": "2024-05", "lang": lang},
                   headers=auth(operator_key))
    assert r.status_code == 200, r.text
    html = re.sub(r"<svg.*?</svg>", "", r.text, flags=re.S)
    assert not RAW.findall(html), RAW.findall(html)
    for word in words:
        assert word in html

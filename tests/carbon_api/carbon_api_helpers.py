"""Helpers for the carbon API tests: readings and activity through HTTP."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth

K_ELEC = 0.1229 / 1000  # tce/kWh, GB/T 2589 当量值
K_HEAT = 0.03412  # tce/GJ
EF_LOC = 0.5306  # tCO2/MWh, MEE 2023 national average (Tibet fallback)
EF_RES = 0.6096  # tCO2/MWh, MEE 2023 national excl. market-traded non-fossil
EF_HEAT = 0.11  # tCO2/GJ
C = 44 / 12


def upload_readings(client: TestClient, key: str, rows: list[tuple[str, str, float]]) -> Any:
    text = "meter,ts,value\n" + "\n".join(f"{m},{t},{v}" for m, t, v in rows) + "\n"
    r = client.post("/v1/readings", content=text.encode(),
                    headers={**auth(key), "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    return r.json()


def record(client: TestClient, key: str, records: list[dict[str, Any]]) -> Any:
    return client.post("/v1/carbon/activity", json=records, headers=auth(key))


def ledger(client: TestClient, key: str, period: str, code: str | None = None,
           scope: str = "enterprise", **params: Any) -> Any:
    q = {"scope": scope, "period": period, **params}
    if code:
        q["code"] = code
    return client.get("/v1/carbon/ledger", params=q, headers=auth(key))


def ok(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()

"""Helpers for the PV API tests: stations, arrays and uploads through the API."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from energy.site import lhasa_etdz
from energy.weather import clearsky_weather
from tests.conftest import auth, unique

SITE = lhasa_etdz()


def post_csv(client: TestClient, key: str, frame: pd.DataFrame) -> Any:
    """Upload ``frame`` (columns meter, ts, value) as CSV through POST /v1/readings."""
    body = frame.to_csv(index=False)
    r = client.post("/v1/readings", content=body.encode(),
                    headers={**auth(key), "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    return r.json()


def make_station(client: TestClient, key: str, make_meter: Any, enterprise: str,
                 quantities: tuple[str, ...] = ("ghi", "temp_air", "wind_speed", "dni", "dhi"),
                 interval_minutes: int = 15) -> dict[str, Any]:
    body: dict[str, Any] = {"code": unique("WS")}
    for q in quantities:
        body[f"{q}_meter"] = make_meter(enterprise, carrier=q,
                                        interval_minutes=interval_minutes)["code"]
    r = client.post("/v1/pv/weather-stations", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def clear_day_weather(day: str, freq: str = "15min") -> pd.DataFrame:
    """The library's clear-sky weather for one local day (what a station would send on a clear
    day); columns ghi, dni, dhi, temp_air, wind_speed."""
    start = pd.Timestamp(day, tz=SITE.tz)
    return clearsky_weather(SITE, start, start + pd.Timedelta("1D"), freq)


def upload_weather(client: TestClient, key: str, station: dict[str, Any],
                   weather: pd.DataFrame) -> None:
    """Send each quantity the station has to its meter (values rounded to 4 decimals)."""
    parts = []
    for q, meter in station["meters"].items():
        parts.append(pd.DataFrame({"meter": meter, "ts": weather.index.map(pd.Timestamp.isoformat),
                                   "value": np.round(weather[q].to_numpy(), 4)}))
    post_csv(client, key, pd.concat(parts))


def make_array(client: TestClient, key: str, enterprise: str | None, **fields: Any) -> dict:
    body: dict[str, Any] = {"code": unique("PV"), "capacity_kwp": 100.0, "tilt_deg": 25.0}
    if enterprise is not None:
        body["enterprise"] = enterprise
    body.update(fields)
    r = client.post("/v1/pv/arrays", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()


def estimate(client: TestClient, key: str, code: str, start: str, end: str,
             resolution: str = "hour", weather: str = "clearsky") -> Any:
    return client.get(f"/v1/pv/arrays/{code}/estimate", headers=auth(key),
                      params={"start": start, "end": end, "resolution": resolution,
                              "weather": weather})


def points_series(answer: dict[str, Any]) -> pd.Series:
    return pd.Series([p["value"] for p in answer["points"]],
                     index=pd.DatetimeIndex([p["start"] for p in answer["points"]]))

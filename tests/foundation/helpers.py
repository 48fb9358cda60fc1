"""Small helpers for the foundation tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth

DAY = ("2026-03-01T00:00:00+08:00", "2026-03-02T00:00:00+08:00")


def post_csv(client: TestClient, key: str, text: str) -> Any:
    return client.post("/v1/readings", content=text.encode(),
                       headers={**auth(key), "content-type": "text/csv"})


def csv_rows(rows: list[tuple[str, str, object]], extra_header: str = "") -> str:
    head = "meter,ts,value" + extra_header
    return head + "\n" + "\n".join(",".join(str(x) for x in r) for r in rows) + "\n"


def series(client: TestClient, key: str, meter: str, start: str, end: str,
           resolution: str = "raw") -> Any:
    return client.get(f"/v1/meters/{meter}/readings", headers=auth(key),
                      params={"start": start, "end": end, "resolution": resolution})

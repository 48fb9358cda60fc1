"""GET /metrics: Prometheus text with request latency by route template, ingest counters and the
database pool, so the service's goals can be watched where it runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (labels must match exactly those given, in any order)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if not m:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_metrics_count_requests_by_route_and_ingested_rows(
    client: TestClient, operator_key: str, make_enterprise: Callable[..., dict[str, Any]],
    make_meter: Callable[..., dict[str, Any]],
) -> None:
    ent = make_enterprise()
    meter = make_meter(ent["code"])
    before = client.get("/metrics").text
    body = "meter,ts,value\n" + "".join(
        f"{meter['code']},2026-03-01T{h:02d}:00:00+08:00,{h}\n" for h in range(3))
    r = client.post("/v1/readings", content=body, headers={**auth(operator_key),
                                                            "content-type": "text/csv"})
    assert r.status_code == 200, r.text
    bad = client.post("/v1/readings", content="meter,ts,value\nNOPE,x,1\n",
                      headers={**auth(operator_key), "content-type": "text/csv"})
    assert bad.status_code == 422
    for _ in range(2):
        assert client.get(f"/v1/meters/{meter['code']}",
                          headers=auth(operator_key)).status_code == 200
    after = client.get("/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    route = "/v1/meters/{code}"
    count = "zcpark_http_request_duration_seconds_count"
    assert _sample(text, count, route=route, status="200") - _sample(
        before, count, route=route, status="200") == 2
    assert meter["code"] not in text  # labels are templates, never raw paths
    assert _sample(text, "zcpark_ingest_rows_total") - _sample(
        before, "zcpark_ingest_rows_total") == 3
    for outcome in ("stored", "rejected"):
        assert _sample(text, "zcpark_ingest_batches_total", outcome=outcome) - _sample(
            before, "zcpark_ingest_batches_total", outcome=outcome) == 1
    assert re.search(r'^zcpark_db_pool_connections\{state="idle"\} \d', text, re.M)

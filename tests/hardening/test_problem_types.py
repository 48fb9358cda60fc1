"""One problem type per kind of rejection, whichever route refuses: a bad request field is
``validation``; refused rows of an uploaded batch (readings, activity data, instruments) are
``batch-rejected`` with row and field; an unreadable body is ``malformed-json`` or
``malformed-csv``; absent columns ``missing-columns``; too many rows ``batch-too-large``. Every
error names its field and has a ``row`` (null when it is not a row's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import auth

BASE = "https://zcpark.example/problems/"
CSV = {"content-type": "text/csv"}


def problem(r: Any, status: int, kind: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == BASE + kind, body
    for error in body.get("errors", []):
        assert set(error) == {"row", "field", "message"}, error
    return body


@pytest.fixture(scope="module")
def ent_meter(make_enterprise: Callable[..., dict[str, Any]],
              make_meter: Callable[..., dict[str, Any]]) -> tuple[str, str]:
    ent = make_enterprise()["code"]
    return ent, make_meter(ent)["code"]


def test_bad_request_fields_are_validation(client: TestClient, operator_key: str) -> None:
    h = auth(operator_key)
    for path, field in (("/v1/indicators?scope=park&period=2026-13", "period"),
                        ("/v1/carbon/ledger?scope=park&period=2026-03&factor_set=nope",
                         "factor_set"),
                        ("/v1/targets/status?scope=park&as_of=20x6", "as_of"),
                        ("/v1/overview?period=day&date=2026-02-30", "date")):
        body = problem(client.get(path, headers=h), 422, "validation")
        assert [e["field"] for e in body["errors"]] == [field], body
        assert body["errors"][0]["row"] is None
    body = problem(client.post("/v1/carbon/periods/2026/close", headers=h), 422, "validation")
    assert body["errors"][0]["field"] == "period"


def test_refused_rows_are_batch_rejected_on_every_upload(
        client: TestClient, operator_key: str, ent_meter: tuple[str, str]) -> None:
    ent, meter = ent_meter
    h = auth(operator_key)
    readings = [{"meter": meter, "ts": "2026-03-01T00:00:00+08:00", "value": 1.0},
                {"meter": meter, "ts": "2026-03-01T00:15:00+08:00", "value": "lots"}]
    activity = [{"enterprise": ent, "period": "2026", "quantity": "value_added_10k_yuan",
                 "value": 5},
                {"enterprise": ent, "period": "2026", "quantity": "no_such_quantity",
                 "value": 5}]
    instruments = [{"id": "GEC-ROW1", "kind": "gec", "enterprise": ent, "period": "2026-03",
                    "mwh": 1},
                   {"id": "GEC-ROW2", "kind": "voucher", "enterprise": ent,
                    "period": "2026-03", "mwh": 1}]
    for path, rows, field in (("/v1/readings", readings, "value"),
                              ("/v1/carbon/activity", activity, "quantity"),
                              ("/v1/carbon/instruments", instruments, "kind")):
        body = problem(client.post(path, json=rows, headers=h), 422, "batch-rejected")
        assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, field)], (path, body)
    for path in ("/v1/carbon/activity", "/v1/carbon/instruments"):
        body = problem(client.post(path, json=[], headers=h), 422, "batch-rejected")
        assert body["errors"] == [{"row": None, "field": "body", "message": "empty"}]


def test_unreadable_bodies_and_missing_columns(client: TestClient, operator_key: str) -> None:
    h = auth(operator_key)
    for path in ("/v1/readings", "/v1/carbon/activity", "/v1/carbon/instruments"):
        body = problem(client.post(path, content=b'[{"meter": ', headers={
            **h, "content-type": "application/json"}), 422, "malformed-json")
        assert body["errors"][0]["field"] == "body"
    for path in ("/v1/carbon/activity", "/v1/carbon/instruments"):
        problem(client.post(path, content=b"enterprise,period\n\xff\xfe\n",
                            headers={**h, **CSV}), 422, "malformed-csv")
    body = problem(client.post("/v1/readings", content=b"meter,value\nM,1\n",
                               headers={**h, **CSV}), 422, "missing-columns")
    assert [e["field"] for e in body["errors"]] == ["ts"]
    body = problem(client.post("/v1/carbon/activity", content=b"enterprise,period\nE,2026\n",
                               headers={**h, **CSV}), 422, "missing-columns")
    assert {e["field"] for e in body["errors"]} == {"quantity", "value"}


def test_too_many_rows(make_app: Callable[..., FastAPI], operator_key: str,
                       ent_meter: tuple[str, str]) -> None:
    _, meter = ent_meter
    rows = [{"meter": meter, "ts": f"2026-03-02T00:{m:02d}:00+08:00", "value": 1.0}
            for m in (0, 15, 30)]
    with TestClient(make_app(max_batch_rows=2)) as small:
        problem(small.post("/v1/readings", json=rows, headers=auth(operator_key)), 413,
                "batch-too-large")

"""Helpers for the storage API tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth, unique


def register(client: TestClient, key: str, **fields: Any) -> dict[str, Any]:
    body = {"code": unique("BESS"), "name": "测试储能电站", "zone": "B区"}
    body.update(fields)
    r = client.post("/v1/storage", json=body, headers=auth(key))
    assert r.status_code == 201, r.text
    return r.json()

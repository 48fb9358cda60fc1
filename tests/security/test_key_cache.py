"""A worker keeps a verified key for ``auth_cache_seconds`` instead of looking it up on every
request; a key revoked elsewhere (another worker, the command line, plain SQL) stops working
within that bound, and at once when revoked through this process."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import auth
from tests.security.test_security_keys import counted_statements

BOUND_S = 1.5


def _key_lookups(statements: list[str]) -> int:
    return sum("FROM api_keys" in s and "key_hash" in s for s in statements)


def test_a_verified_key_is_not_looked_up_again_within_the_bound(make_app, engine, make_key):
    key = make_key("planner")
    with TestClient(make_app(auth_cache_seconds=BOUND_S)) as client:
        assert client.get("/v1/enterprises", headers=auth(key)).status_code == 200
        with counted_statements(engine) as later:
            for _ in range(5):
                assert client.get("/v1/enterprises", headers=auth(key)).status_code == 200
        assert _key_lookups(later) == 0
        time.sleep(BOUND_S + 0.2)
        with counted_statements(engine) as after:
            assert client.get("/v1/enterprises", headers=auth(key)).status_code == 200
        assert _key_lookups(after) == 1


def test_a_key_revoked_by_another_process_stops_within_the_bound(make_app, engine, make_key):
    key = make_key("planner")
    with TestClient(make_app(auth_cache_seconds=BOUND_S)) as client:
        assert client.get("/v1/enterprises", headers=auth(key)).status_code == 200
        # what `zcpark keys revoke` or another worker writes: the row, nothing in this process
        with engine.begin() as conn:
            conn.execute(text("UPDATE api_keys SET revoked_at = now() WHERE key_hash ="
                              " encode(sha256(convert_to(:k, 'UTF8')), 'hex')"), {"k": key})
        revoked_at = time.monotonic()
        while client.get("/v1/enterprises", headers=auth(key)).status_code == 200:
            assert time.monotonic() - revoked_at <= BOUND_S + 0.5, "still accepted"
            time.sleep(0.05)
        r = client.get("/v1/enterprises", headers=auth(key))
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")


def test_a_key_revoked_through_this_process_stops_at_once(make_app, make_key):
    operator = make_key("operator")
    with TestClient(make_app(auth_cache_seconds=60)) as client:
        made = client.post("/v1/keys", headers=auth(operator), json={"role": "planner"}).json()
        assert client.get("/v1/enterprises", headers=auth(made["key"])).status_code == 200
        r = client.post(f"/v1/keys/{made['id']}/revoke", headers=auth(operator))
        assert r.status_code == 200
        assert client.get("/v1/enterprises", headers=auth(made["key"])).status_code == 401
        rotated = client.post("/v1/keys", headers=auth(operator), json={"role": "planner"}).json()
        assert client.get("/v1/enterprises", headers=auth(rotated["key"])).status_code == 200
        new = client.post(f"/v1/keys/{rotated['id']}/rotate", headers=auth(operator)).json()
        assert client.get("/v1/enterprises", headers=auth(rotated["key"])).status_code == 401
        assert client.get("/v1/enterprises", headers=auth(new["key"])).status_code == 200


def test_an_expiry_that_passes_is_checked_on_every_request(make_app, engine, make_key):
    key = make_key("planner")
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET expires_at = now() + interval '2 seconds'"
                          " WHERE key_hash = encode(sha256(convert_to(:k, 'UTF8')), 'hex')"),
                     {"k": key})
    with TestClient(make_app(auth_cache_seconds=60)) as client:
        assert client.get("/v1/enterprises", headers=auth(key)).status_code == 200  # cached
        time.sleep(2.5)
        with counted_statements(engine) as statements:
            assert client.get("/v1/enterprises", headers=auth(key)).status_code == 401
        assert _key_lookups(statements) == 1  # the expired entry was dropped, then looked up

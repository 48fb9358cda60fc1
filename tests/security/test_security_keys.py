"""Key lifecycle through HTTP and the command line: create with an expiry, list, rotate, revoke;
expired keys refused; last use recorded without a write per request; failed authentications
limited per client address before any database lookup; the demo key kept in a 0600 file."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from typer.testing import CliRunner

from app.cli import cli
from tests.conftest import auth


@contextmanager
def counted_statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _key_row(client: TestClient, operator_key: str, key_id: int) -> dict:
    rows = client.get("/v1/keys", headers=auth(operator_key)).json()
    return next(r for r in rows if r["id"] == key_id)


def test_operator_routes_create_list_rotate_and_revoke_keys(client, operator_key,
                                                           make_enterprise):
    op = auth(operator_key)
    ent = make_enterprise()["code"]
    r = client.post("/v1/keys", headers=op,
                    json={"role": "enterprise", "enterprise": ent, "label": "erp",
                          "expires_in": "90d"})
    assert r.status_code == 201, r.text
    made = r.json()
    first = made["key"]
    assert client.get("/v1/enterprises", headers=auth(first)).status_code == 200
    expires = datetime.fromisoformat(made["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)

    listing = client.get("/v1/keys", headers=op)
    assert listing.status_code == 200
    assert first not in listing.text and first[4:] not in listing.text  # never the secret
    row = _key_row(client, operator_key, made["id"])
    assert (row["role"], row["enterprise"], row["label"], row["status"]) == (
        "enterprise", ent, "erp", "active")

    r = client.post(f"/v1/keys/{made['id']}/rotate", headers=op)
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["key"] != first and second["enterprise"] == ent and second["label"] == "erp"
    # the new key keeps the old key's 90-day lifetime
    assert datetime.fromisoformat(second["expires_at"]) > expires - timedelta(minutes=5)
    assert client.get("/v1/enterprises", headers=auth(first)).status_code == 401
    assert [e["code"] for e in client.get("/v1/enterprises",
                                          headers=auth(second["key"])).json()] == [ent]
    assert _key_row(client, operator_key, made["id"])["status"] == "revoked"
    # rotating a revoked key is a conflict; revoking twice changes nothing
    assert client.post(f"/v1/keys/{made['id']}/rotate", headers=op).status_code == 409

    r = client.post(f"/v1/keys/{second['id']}/revoke", headers=op)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    again = client.post(f"/v1/keys/{second['id']}/revoke", headers=op).json()
    assert again["revoked_at"] == r.json()["revoked_at"]
    assert client.get("/v1/enterprises", headers=auth(second["key"])).status_code == 401
    assert client.post("/v1/keys/999999/revoke", headers=op).status_code == 404


def test_rotation_with_a_grace_period_keeps_the_old_key_until_then(client, operator_key):
    op = auth(operator_key)
    made = client.post("/v1/keys", headers=op, json={"role": "planner"}).json()
    r = client.post(f"/v1/keys/{made['id']}/rotate", headers=op, json={"grace": "1h"})
    assert r.status_code == 201, r.text
    assert client.get("/v1/enterprises", headers=auth(made["key"])).status_code == 200
    old = _key_row(client, operator_key, made["id"])
    left = datetime.fromisoformat(old["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=55) < left <= timedelta(hours=1)


def test_bad_lifetimes_are_422_naming_the_field(client, operator_key):
    for value in ("forever", "0d", "-1d", "90"):
        r = client.post("/v1/keys", headers=auth(operator_key),
                        json={"role": "planner", "expires_in": value})
        assert r.status_code == 422, (value, r.text)
        assert r.json()["errors"][0]["field"] == "expires_in"


def test_an_expired_key_gets_401(client, engine, operator_key):
    made = client.post("/v1/keys", headers=auth(operator_key),
                       json={"role": "planner", "expires_in": "1h"}).json()
    assert client.get("/v1/enterprises", headers=auth(made["key"])).status_code == 200
    with engine.begin() as conn:  # an hour later
        conn.execute(text("UPDATE api_keys SET expires_at = now() - interval '1 second'"
                          " WHERE id = :id"), {"id": made["id"]})
    # an hour later no worker still holds the key verified an hour ago (auth_cache_seconds)
    deadline = time.monotonic() + client.app.state.settings.auth_cache_seconds + 1
    while (r := client.get("/v1/enterprises", headers=auth(made["key"]))).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _key_row(client, operator_key, made["id"])["status"] == "expired"


def test_last_use_is_recorded_at_most_once_a_minute(client, engine, operator_key):
    made = client.post("/v1/keys", headers=auth(operator_key), json={"role": "planner"}).json()
    assert made["last_used_at"] is None
    before = datetime.now(UTC)
    with counted_statements(engine) as first:
        assert client.get("/v1/enterprises", headers=auth(made["key"])).status_code == 200
    used = _key_row(client, operator_key, made["id"])["last_used_at"]
    assert used is not None
    assert datetime.fromisoformat(used) >= before - timedelta(seconds=5)
    assert sum("UPDATE api_keys" in s for s in first) == 1
    with counted_statements(engine) as later:
        for _ in range(20):
            assert client.get("/v1/enterprises", headers=auth(made["key"])).status_code == 200
    assert not [s for s in later if "UPDATE api_keys" in s]  # no write per request


def test_a_flood_of_bad_keys_is_answered_429_without_database_queries(make_app, engine,
                                                                       make_key):
    good = make_key("planner")
    app = make_app(auth_failure_burst=10, auth_failures_per_minute=6)
    statuses, retry_after = [], set()
    with TestClient(app, client=("203.0.113.7", 40000)) as flood, \
            counted_statements(engine) as statements:
        for header in ("Bearer", "Bearer  ", "Basic abc") * 5:  # no key sent: not a guess
            assert flood.get("/v1/enterprises",
                             headers={"Authorization": header}).status_code == 401
        for i in range(300):
            r = flood.get("/v1/enterprises", headers=auth(f"zcp_guess{i:04d}"))
            statuses.append(r.status_code)
            if r.status_code == 429:
                retry_after.add(r.headers.get("retry-after"))
                assert r.headers["content-type"].startswith("application/problem+json")
        # the address is held back even with a good key until its bucket refills
        assert flood.get("/v1/enterprises", headers=auth(good)).status_code == 429
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429] * 290
    assert retry_after and all(v is not None and 1 <= int(v) <= 10 for v in retry_after)
    lookups = [s for s in statements if "api_keys" in s]
    assert len(lookups) == 10, len(lookups)  # one per attempt within the burst, none beyond
    assert len(statements) == 10
    # another address is not affected
    with TestClient(app, client=("198.51.100.9", 40000)) as other:
        assert other.get("/v1/enterprises", headers=auth(good)).status_code == 200


def _run_cli(monkeypatch, database_url: str, *args: str):
    from app.config import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        get_settings.cache_clear()


def test_cli_keys_create_list_rotate_revoke(client, database_url, engine, monkeypatch):
    made = _run_cli(monkeypatch, database_url, "keys", "create", "--role", "planner",
                    "--label", "cli-test", "--expires-in", "90d")
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert client.get("/v1/enterprises", headers=auth(key)).status_code == 200
    with engine.connect() as conn:
        key_id, expires = conn.execute(text(
            "SELECT id, expires_at FROM api_keys WHERE prefix = :p ORDER BY id DESC LIMIT 1"),
            {"p": key[:8]}).one()
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)

    listed = _run_cli(monkeypatch, database_url, "keys", "list")
    assert listed.exit_code == 0, listed.output
    line = next(row for row in listed.output.splitlines() if f" {key[:8]} " in row)
    assert "planner" in line and "active" in line and "cli-test" in line
    assert key not in listed.output

    rotated = _run_cli(monkeypatch, database_url, "keys", "rotate", str(key_id))
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.stdout.strip().splitlines()[-1]
    assert new_key.startswith("zcp_") and new_key != key
    assert client.get("/v1/enterprises", headers=auth(key)).status_code == 401
    assert client.get("/v1/enterprises", headers=auth(new_key)).status_code == 200

    with engine.connect() as conn:
        new_id = conn.execute(text("SELECT id FROM api_keys WHERE prefix = :p"),
                              {"p": new_key[:8]}).scalar()
    revoked = _run_cli(monkeypatch, database_url, "keys", "revoke", str(new_id))
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/v1/enterprises", headers=auth(new_key)).status_code == 401
    missing = _run_cli(monkeypatch, database_url, "keys", "revoke", "999999")
    assert missing.exit_code != 0
    bad = _run_cli(monkeypatch, database_url, "keys", "create", "--role", "planner",
                   "--expires-in", "soon")
    assert bad.exit_code != 0


def test_demo_key_goes_to_an_owner_only_file_and_never_to_the_console(tmp_path, capsys):
    from app.cli import announce_demo_key
    from app.config import Settings

    folder = tmp_path / "data"
    folder.mkdir()
    stale = folder / "demo-operator-key"
    stale.write_text("old")
    os.chmod(stale, 0o644)  # a file left by an older run with loose permissions
    key = "zcp_" + "k" * 43
    path = announce_demo_key(Settings(data_dir=folder), key, "127.0.0.1", 8000)
    out = capsys.readouterr()
    assert path == stale.resolve()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == key
    assert str(path) in out.out
    assert key not in out.out and key not in out.err


def test_a_restarted_demo_keeps_its_key_file_only_while_that_key_is_active(engine, tmp_path):
    from sqlalchemy.orm import Session

    from app.auth import create_api_key
    from app.services.keys import active_key_in_file, revoke_key, write_key_file

    folder = tmp_path / "data"
    with Session(engine) as session:
        assert active_key_in_file(session, folder) is None  # no file yet
        key = create_api_key(session, "operator", label="demo")
        session.commit()
        write_key_file(folder, key)
        found = active_key_in_file(session, folder)
        assert found is not None and found[0] == key
        assert active_key_in_file(session, folder, role="planner") is None
        revoke_key(session, found[1])
        session.commit()
        assert active_key_in_file(session, folder) is None  # a revoked key is not kept
        write_key_file(folder, "zcp_\x00not-a-key")
        assert active_key_in_file(session, folder) is None

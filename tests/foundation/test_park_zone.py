"""The park's time zone has one home (``tz`` in energy/data/site_lhasa.yaml, read as
``energy.site.PARK_TZ``): no code names a zone of its own, there is no setting that would
disagree with the stored rollups, and the rollups the database keeps are the park's days."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.config import Settings
from energy.site import PARK_TZ
from tests.conftest import auth

ROOT = Path(__file__).resolve().parents[2]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def test_no_code_names_the_zone_itself() -> None:
    """No string in code is the zone's name or quotes it for SQL: code takes PARK_TZ (SQL as
    the bound parameter ``:tz``). Prose naming the zone for readers is not code."""
    found = []
    for package in ("app", "energy", "carbon", "simulations"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docs = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and id(node) not in docs \
                        and (node.value == PARK_TZ or f"'{PARK_TZ}'" in node.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found


def test_the_zone_is_data_not_a_setting() -> None:
    assert "timezone" not in Settings.model_fields
    assert "ZCPARK_TIMEZONE" not in (ROOT / "README.md").read_text(encoding="utf-8")


def test_stored_rollups_are_the_parks_days(engine: Engine, timescale: bool, client: TestClient,
                                           operator_key: str,
                                           make_enterprise: Callable[..., dict[str, Any]],
                                           make_meter: Callable[..., dict[str, Any]]) -> None:
    """A reading at the park's midnight (16:00 UTC the day before) counts on its local day in
    the daily totals, on either storage layout; the TimescaleDB aggregate buckets in PARK_TZ."""
    if timescale:
        with engine.connect() as conn:
            definition = conn.execute(text(
                "SELECT view_definition FROM timescaledb_information.continuous_aggregates"
                " WHERE view_name = 'readings_daily'")).scalar_one()
        assert f"'{PARK_TZ}'" in definition
    ent = make_enterprise()["code"]
    meter = make_meter(ent)["code"]
    h = auth(operator_key)
    r = client.post("/v1/readings", headers=h, json=[
        {"meter": meter, "ts": "2026-04-01T00:00:00+08:00", "value": 7.0},
        {"meter": meter, "ts": "2026-03-31T23:45:00+08:00", "value": 3.0}])
    assert r.status_code == 200, r.text

    def total(start: str, end: str) -> float:
        r = client.get("/v1/park/energy", headers=h, params={
            "start": start, "end": end, "by": "enterprise"})
        assert r.status_code == 200, r.text
        return sum(t["value"] for t in r.json()["totals"] if t["enterprise"] == ent)

    assert total("2026-04-01T00:00:00+08:00", "2026-04-02T00:00:00+08:00") == 7.0
    assert total("2026-03-31T00:00:00+08:00", "2026-04-01T00:00:00+08:00") == 3.0

"""What every client sees besides the data: OpenAPI declaring problem+json answers, 405 with
``Allow``, security headers on every answer, and a deployment that needs a password."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import yaml

from tests.conftest import auth

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_declares_problem_answers_for_every_operation(client):
    schema = client.get("/openapi.json").json()
    assert {"type", "title", "status", "detail"} <= set(
        schema["components"]["schemas"]["Problem"]["required"])
    operations = [(path, method, op) for path, ops in schema["paths"].items()
                  for method, op in ops.items()]
    assert len(operations) > 40
    for path, method, op in operations:
        declared = {s for s in op["responses"] if s[0] in "45"}
        expected = {"422", "500", "503"} | ({"401", "403", "404"} if path != "/health" else set())
        if method == "post":
            expected |= {"400", "409", "413", "415"}
        assert expected <= declared, (method, path, declared)
        for status in declared:
            content = op["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_method_not_allowed_names_the_allowed_methods(client, operator_key):
    r = client.put("/v1/meters", headers=auth(operator_key))
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    r = client.delete("/v1/alerts/1/acknowledge", headers=auth(operator_key))
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_security_headers_on_every_kind_of_answer(client, operator_key):
    answers = {
        "json": client.get("/v1/enterprises", headers=auth(operator_key)),
        "problem": client.get("/v1/enterprises"),
        "health": client.get("/health"),
        "dashboard": client.get("/dashboard"),
        "static": client.get("/dashboard/static/dashboard.js"),
        "openapi": client.get("/openapi.json"),
        "report": client.get("/v1/carbon/report", params={"period": "2026-01"},
                             headers=auth(operator_key)),
    }
    for name, r in answers.items():
        assert r.headers.get("x-content-type-options") == "nosniff", name
        assert r.headers.get("referrer-policy") == "no-referrer", name
    for name in ("dashboard", "report"):
        r = answers[name]
        assert r.headers["content-type"].startswith("text/html"), name
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp, name
    # The report runs no script at all.
    assert "script-src" not in answers["report"].headers["content-security-policy"]


def test_docs_pages_allow_exactly_their_own_inline_scripts(client):
    for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        r = client.get(path)
        assert r.status_code == 200 and asset in r.text
        csp = r.headers["content-security-policy"]
        # scripts from this service only (the docs assets are served offline), inline ones by hash
        assert "script-src 'self'" in csp
        assert "http" not in csp  # nothing from another origin
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert "connect-src 'self'" in csp
        for script in re.findall(r"<script>(.*?)</script>", r.text, flags=re.S):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"


def test_compose_refuses_to_start_without_a_password_and_pins_timescaledb():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    image = doc["services"]["db"]["image"]
    assert re.fullmatch(r"timescale/timescaledb:\d+\.\d+\.\d+-pg\d+", image), image
    uses = re.findall(r"\$\{ZCPARK_DB_PASSWORD([^}]*)\}", text)
    assert len(uses) == 2 and all(u.startswith(":?") for u in uses), uses
    assert "change-me" not in text

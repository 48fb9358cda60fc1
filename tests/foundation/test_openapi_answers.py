"""The API document describes every answer: each operation's success response has a schema a
client generator can use (not an empty object), and answers that are files, CSV or HTML say
their media type."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

FILE_TYPES = ("text/csv", "text/html", "image/png", "application/zip",
              "application/octet-stream", "text/plain")


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node
    return schema


def _says_something(doc: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    """False for an absent schema, ``{}`` or an object with no declared properties
    (``dict[str, Any]``); arrays and unions are judged by what they hold."""
    if not schema:
        return False
    schema = _resolve(doc, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return all(_says_something(doc, s) for s in schema[key] if s.get("type") != "null")
    if schema.get("type") == "array":
        return _says_something(doc, schema.get("items"))
    if schema.get("type") == "object" or "properties" in schema:
        extra = schema.get("additionalProperties")
        return bool(schema.get("properties")) or (isinstance(extra, dict)
                                                 and _says_something(doc, extra))
    return "type" in schema or "enum" in schema or "const" in schema


def test_every_operation_has_a_typed_success_answer(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    blank = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = {c: r for c, r in op["responses"].items() if c.startswith("2")}
            assert ok, (method, path)
            for code, response in ok.items():
                content = response.get("content")
                if code == "204" and not content:
                    continue
                if not content:
                    blank.append(f"{method.upper()} {path} {code}: no content")
                    continue
                for media, body in content.items():
                    if media in FILE_TYPES or media.startswith("image/"):
                        continue
                    if not _says_something(doc, body.get("schema")):
                        blank.append(f"{method.upper()} {path} {code} {media}")
    assert not blank, "operations answering without a schema:\n" + "\n".join(blank)


def test_ledger_and_overview_are_described(client: TestClient) -> None:
    """The ledger (JSON or CSV) and the dashboard's overview name the fields clients read."""
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    ledger = doc["paths"]["/v1/carbon/ledger"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in ledger
    led = _resolve(doc, ledger["application/json"]["schema"])
    for field in ("energy_tce", "co2_t", "co2_location_based_t", "co2_market_based_t",
                  "energy_by_carrier", "factors_used", "input_hash", "provenance"):
        assert field in led["properties"], field
    ov = _resolve(doc, doc["paths"]["/v1/overview"]["get"]["responses"]["200"]["content"]
                  ["application/json"]["schema"])
    for field in ("tiles", "balance", "zones", "enterprises", "alerts", "modules"):
        assert field in ov["properties"], field
    tile = schemas["Tile"]["properties"]
    assert {"grid_import_kwh", "pv_kwh", "load_kwh", "energy_tce"} <= set(tile)
    report = doc["paths"]["/v1/carbon/report"]["get"]["responses"]["200"]["content"]
    assert list(report) == ["text/html"]

"""The registry of tariffs and accounting policies, chosen by name: the shipped data files
(energy/data/tariffs, carbon/data/policy_*.yaml) and those an operator uploaded as content.

No client field names a server path: a name is looked up in the shipped names and the stored
uploads, never opened as a file, so an unknown name gets the same 422 whatever exists on disk.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app.problems import Problem, invalid
from app.repositories import registry as repo
from carbon.policy import (
    AccountingPolicy,
    PolicyError,
    parse_policy,
    shipped_policies,
    shipped_policy_document,
)
from energy.tariffs import (
    Tariff,
    TariffError,
    parse_tariff,
    shipped_tariff_document,
    shipped_tariffs,
    tariff_document,
)

TARIFF, POLICY = "tariff", "accounting_policy"
LISTING = {TARIFF: "GET /v1/tariffs", POLICY: "GET /v1/accounting-policies"}
WHAT = {TARIFF: "tariff", POLICY: "accounting policy"}


def unknown(kind: str, field: str) -> Problem:
    """The one answer for a name that is not in the registry (never echoes the name)."""
    return invalid(field, f"unknown {WHAT[kind]}; choose a name listed by {LISTING[kind]}")


def _shipped(kind: str) -> list[str]:
    return shipped_tariffs() if kind == TARIFF else shipped_policies()


def document(conn: Connection, kind: str, name: object, field: str) -> dict[str, Any]:
    """The mapping of registry entry ``name`` (shipped first, then uploaded); 422 otherwise."""
    if not isinstance(name, str) or not name:
        raise unknown(kind, field)
    if name in _shipped(kind):
        return (shipped_tariff_document(name) if kind == TARIFF
                else shipped_policy_document(name))
    stored = repo.document(conn, kind, name)
    if stored is None:
        raise unknown(kind, field)
    return dict(stored)


def tariff(conn: Connection, name: object, field: str = "tariff") -> Tariff:
    try:
        return parse_tariff(document(conn, TARIFF, name, field))
    except TariffError as exc:  # a stored entry was validated on upload; defensive
        raise invalid(field, str(exc)) from None


def policy(conn: Connection, name: object, field: str = "accounting_policy.policy",
           **overrides: Any) -> AccountingPolicy:
    try:
        return parse_policy(document(conn, POLICY, name, field), **overrides)
    except PolicyError as exc:
        raise invalid(field, str(exc)) from None


def listing(session: Session, kind: str) -> list[dict[str, Any]]:
    """Shipped and uploaded entries: name, version, source ('shipped' | 'uploaded')."""
    out = []
    for name in _shipped(kind):
        doc = document(session.connection(), kind, name, "name")
        out.append({"name": name, "version": str(doc.get("version", "")), "origin": "shipped"})
    for row in repo.documents(session, kind):
        out.append({"name": row.name, "version": row.version, "origin": "uploaded"})
    return out


MAX_CONTENT_CHARS = 64 * 1024


def _content_mapping(content: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(content, dict):
        return content
    if len(content) > MAX_CONTENT_CHARS:
        raise invalid("content", f"at most {MAX_CONTENT_CHARS} characters")
    try:
        data = yaml.safe_load(content)  # YAML 1.1 reads JSON as well
    except (yaml.YAMLError, RecursionError) as exc:
        raise invalid("content", f"not YAML or JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise invalid("content", "the top level must be a mapping")
    return data


def upload(session: Session, kind: str, name: str, content: str | dict[str, Any],
           api_key_id: int | None) -> tuple[dict[str, Any], bool]:
    """Validate ``content`` with the library's parser and store it under ``name`` in its
    normalised form. Returns (entry, created); the same content again is a no-op, another
    content under a taken name (shipped or uploaded) is 409."""
    raw = dict(_content_mapping(content))
    raw["name"] = name
    try:
        if kind == TARIFF:
            normal = tariff_document(parse_tariff(raw))
        else:
            normal = parse_policy(raw).to_dict()
    except (TariffError, PolicyError) as exc:
        raise invalid("content", str(exc)) from None
    # JSON round trip: what is stored is exactly what a reader gets back
    try:
        normal = json.loads(json.dumps(normal, allow_nan=False))
    except ValueError:
        raise invalid("content", "numbers must be finite") from None
    version = str(normal.get("version", ""))
    entry = {"name": name, "version": version, "origin": "uploaded", "content": normal}
    if name in _shipped(kind):
        raise Problem(409, f"{name!r} is the name of a shipped {WHAT[kind]}; choose another.")
    if repo.insert_document(session, kind, name, version, normal, api_key_id):
        return entry, True
    if repo.document(session.connection(), kind, name) == normal:
        return entry, False
    raise Problem(409, f"{WHAT[kind].capitalize()} {name!r} exists with other content; "
                       "upload it under a new name (scenarios and plans keep naming the old).")

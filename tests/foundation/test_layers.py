"""The layers hold: routers and services build no SQL (only repositories do).

The import rules (routers → services → repositories; repositories know no HTTP; the libraries
import neither the service nor a database) are import-linter contracts in pyproject.toml, run
by scripts/test.sh; what an import cannot show — a statement built in a router or a service —
is checked here on the syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "app"
SQL_BUILDERS = {"select", "text", "insert", "update", "delete", "union", "exists"}
"""SQLAlchemy's statement constructors (``sqlalchemy.select`` …)."""
SQL_METHODS = {"query", "execute", "scalar", "scalars", "exec_driver_sql"}
"""Session / Connection methods that run a statement."""


def sql_calls(path: Path) -> list[str]:
    """``file:line name`` of every SQL statement built or run in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.asname or alias.name
                for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("sqlalchemy")
                for alias in node.names if alias.name in SQL_BUILDERS}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id in imported:
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {f.id}(")
        elif isinstance(f, ast.Attribute) and f.attr in SQL_METHODS:
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} .{f.attr}(")
    return found


@pytest.mark.parametrize("layer", ["routers", "services"])
def test_routers_and_services_build_no_sql(layer: str) -> None:
    found = [c for p in sorted((ROOT / layer).glob("*.py")) for c in sql_calls(p)]
    assert found == [], "SQL outside the repositories: " + ", ".join(found)


def test_the_check_finds_sql_where_there_is_some() -> None:
    found = [c for p in sorted((ROOT / "repositories").glob("*.py")) for c in sql_calls(p)]
    assert any(" select(" in c for c in found) and any(".execute(" in c for c in found)

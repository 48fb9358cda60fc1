"""The ORM models (app/models) describe the schema the migrations build, on both storage layouts.

Alembic's autogenerate compares the models' metadata with a migrated database (tables, columns,
types, nullability, server defaults, primary/foreign keys, indexes incl. partial ones, unique
constraints); any difference is a model to fix. Only what the models cannot describe is allowed,
in ``ALLOWED`` below. Not compared by autogenerate at all, hence not listed: the continuous
aggregates (materialized views are not reflected as tables), TimescaleDB's own schemas and
compression settings (only ``public`` is compared), and SQL functions.

Autogenerate also ignores CHECK constraints and an index's WHERE clause and sort order, so
``definition_differences`` builds the models' CHECKs and indexes on empty copies of the tables
and compares PostgreSQL's own rendering of each (``pg_get_constraintdef``, ``pg_get_indexdef``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, text
from sqlalchemy.schema import AddConstraint, CreateIndex

from app import migrate
from app.db import make_engine, readings_on_timescale
from app.models import Base
from app.scratch_db import scratch_database


@dataclass(frozen=True)
class Layout:
    timescale: bool
    partitions: frozenset[str]
    """Tables attached as partitions of ``readings`` (plain layout)."""


ALLOWED: list[tuple[str, Callable[[tuple[Any, ...], Layout], bool]]] = [
    # create_hypertable() adds a descending index on the time column; the plain layout has none,
    # so no model can declare it for both layouts.
    ("TimescaleDB hypertable's own index readings_start_ts_idx",
     lambda d, lay: lay.timescale and d[0] == "remove_index"
     and d[1].table.name == "readings" and d[1].name == "readings_start_ts_idx"),
    # Plain layout: monthly partitions readings_YYYY_MM are created at run time by
    # zcpark_ensure_reading_months; the model is the parent table ``readings``.
    ("monthly partitions of readings (plain layout)",
     lambda d, lay: d[0] == "remove_table" and d[1].name in lay.partitions),
]


def _layout(conn: Any) -> Layout:
    partitions = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass('readings')")).scalars().all()
    return Layout(readings_on_timescale(conn), frozenset(partitions))


def _sql(value: Any) -> str:
    """A server default or type as SQL text."""
    arg = getattr(value, "arg", value)  # DefaultClause -> its text
    return str(getattr(arg, "text", arg))


def _describe(d: tuple[Any, ...]) -> str:
    kind = d[0]
    if kind.startswith("modify_"):  # (kind, schema, table, column, existing, database, model)
        return f"{kind} {d[2]}.{d[3]}: database {_sql(d[5])}, model {_sql(d[6])}"
    obj = d[1]
    table = getattr(obj, "table", None)
    where = f"{table.name}." if table is not None else ""
    columns = getattr(obj, "columns", None)
    cols = f" ({', '.join(c.name for c in columns)})" if columns is not None else ""
    if getattr(obj, "unique", False):
        cols += " unique"
    if kind == "add_column":  # (kind, schema, table, column)
        return f"add_column {d[2]}.{d[3].name}: only in the model"
    if kind == "remove_column":
        return f"remove_column {d[2]}.{d[3].name}: only in the database"
    side = "only in the database" if kind.startswith("remove_") else "only in the model"
    return f"{kind} {where}{getattr(obj, 'name', obj)}{cols}: {side}"


def schema_differences(engine: Engine) -> list[str]:
    """Differences between the models and ``engine``'s database, minus ``ALLOWED``."""
    with engine.connect() as conn:
        layout = _layout(conn)
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True})
        diffs = compare_metadata(context, Base.metadata)
    flat = [x for d in diffs for x in (d if isinstance(d, list) else [d])]
    return [_describe(d) for d in flat
            if not any(allowed(d, layout) for _, allowed in ALLOWED)]


CHECKS = """
SELECT r.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c
JOIN pg_class r ON r.oid = c.conrelid
WHERE c.contype = 'c' AND r.relnamespace = {schema} AND r.relname = ANY(:tables)
  AND NOT r.relispartition
"""
INDEXES = """
SELECT t.relname, i.relname,
       regexp_replace(pg_get_indexdef(i.oid), ' ON \\S+ ', ' ON ' || t.relname || ' ')
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relnamespace = {schema} AND t.relname = ANY(:tables) AND i.relname = ANY(:indexes)
"""


def definition_differences(engine: Engine) -> list[str]:
    """CHECK constraints and index definitions: the models' vs the database's."""
    tables = list(Base.metadata.tables)
    indexes = [i.name for t in Base.metadata.tables.values() for i in t.indexes]
    params = {"tables": tables, "indexes": indexes}
    public = "'public'::regnamespace"
    temp = "pg_my_temp_schema()"
    with engine.connect() as conn, conn.begin():
        database = {
            "CHECK": set(conn.execute(text(CHECKS.format(schema=public)), params).all()),
            "index": set(conn.execute(text(INDEXES.format(schema=public)), params).all())}
        # Empty copies (columns and NOT NULL only) in the session's temporary schema, which
        # comes first in the search path: the models' DDL then builds on the copies.
        for table in Base.metadata.sorted_tables:
            conn.execute(text(f'CREATE TEMP TABLE "{table.name}" (LIKE public."{table.name}")'))
            for constraint in table.constraints:
                if isinstance(constraint, CheckConstraint):
                    conn.execute(AddConstraint(constraint))
            for index in table.indexes:
                conn.execute(CreateIndex(index))
        models = {
            "CHECK": set(conn.execute(text(CHECKS.format(schema=temp)), params).all()),
            "index": set(conn.execute(text(INDEXES.format(schema=temp)), params).all())}
        conn.rollback()
    return sorted(
        [f"{kind} {t}.{name}: only in the database: {sql}"
         for kind in database for t, name, sql in database[kind] - models[kind]]
        + [f"{kind} {t}.{name}: only in the model: {sql}"
           for kind in models for t, name, sql in models[kind] - database[kind]])


def _assert_match(engine: Engine) -> None:
    # The definitions are built on copies of the tables the models name, so tables come first.
    differences = schema_differences(engine) or definition_differences(engine)
    assert not differences, (
        "app/models and the migrations disagree; make the models declare what the migrations "
        "build:\n  " + "\n  ".join(differences))


def test_models_match_the_migrated_database(engine: Engine) -> None:
    """The session database, migrated with this run's layout (ZCPARK_TIMESCALE)."""
    _assert_match(engine)


def test_models_match_the_migrations_on_the_other_layout(engine: Engine) -> None:
    """A fresh database migrated with the other layout (two monthly reading partitions on the
    plain one)."""
    with engine.connect() as conn:
        other = "off" if readings_on_timescale(conn) else "auto"
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_models") as url:
        eng = make_engine(url)
        try:
            migrate.upgrade(eng, use_timescale=other)
            with eng.begin() as conn:
                conn.execute(text("SELECT zcpark_ensure_reading_months("
                                  "ARRAY[date '2026-01-05', date '2026-03-01'])"))
            _assert_match(eng)
        finally:
            eng.dispose()

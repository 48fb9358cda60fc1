"""The MRV migration copies green-instrument activity records into instruments (the ledger
then claims them like any instrument) and keeps an earlier close as version 1."""

from __future__ import annotations

import os

from alembic import command
from sqlalchemy import create_engine, text

from app.migrate import alembic_config
from app.scratch_db import scratch_database


def test_legacy_green_activity_becomes_instruments():
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_mig") as url:
        eng = create_engine(url)
        try:
            cfg = alembic_config(eng, use_timescale="off")
            with eng.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0005_carbon_api")
            with eng.begin() as conn:
                conn.execute(text(
                    "INSERT INTO enterprises (code, name, zone) VALUES ('E1', 'e', 'A区');"
                    "INSERT INTO carbon_activity_batches (payload_sha256, rows, inserted,"
                    " unchanged, revised) VALUES ('x', 3, 3, 0, 0);"
                    "INSERT INTO carbon_activity (enterprise_id, period, period_start, period_end,"
                    " months, quantity, value, batch_id) SELECT e.id, '2026-03', '2026-03-01',"
                    " '2026-04-01', 1, q, v, 1 FROM enterprises e, (VALUES"
                    " ('green_certificates_mwh', 300.0), ('direct_green_supply_mwh', 150.0),"
                    " ('value_added_10k_yuan', 9.0)) AS t(q, v);"
                    "INSERT INTO carbon_periods (period, status) VALUES ('2026-03', 'closed');"
                    "INSERT INTO carbon_period_events (period, action, actor, ledgers)"
                    " VALUES ('2026-03', 'close', 'x', 1);"
                    "INSERT INTO carbon_frozen_ledgers (period, scope, code, event_id, input_hash,"
                    " ledger) VALUES ('2026-03', 'park', 'park', 1, 'h', '{}')"))
            with eng.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0008_mrv")
            with eng.connect() as conn:
                got = conn.execute(text("SELECT kind, period, mwh FROM carbon_instruments"
                                        " ORDER BY kind")).all()
                assert [tuple(r) for r in got] == [("direct_supply", "2026-03", 150.0),
                                                   ("gec", "2026-03", 300.0)]
                assert conn.execute(text("SELECT version FROM carbon_frozen_ledgers")).scalar() \
                    == 1
                assert conn.execute(text("SELECT version FROM carbon_periods")).scalar() == 1
            with eng.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "0005_carbon_api")
        finally:
            eng.dispose()

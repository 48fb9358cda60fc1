"""Failed-authentication limit: 300 bad keys from one client address with the limit off
(``auth_failure_burst=0``) and with the default (30, refilled at 30 a minute), in one run. Counts
the SQL statements the app's engine sends and the wall time. Needs a PostgreSQL: DATABASE_URL (a
scratch database is created and dropped) or, without it, the embedded server.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        /work/main/.venv/bin/python benchmarks/auth_flood.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import migrate
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.scratch_db import scratch_database

ATTEMPTS = 300


def main() -> None:
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_bench_auth") as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        print("| limit | 401 | 429 | SQL statements | seconds |")
        print("| --- | --- | --- | --- | --- |")
        statements = [0]

        def count(*_: object) -> None:
            statements[0] += 1

        for burst in (0, Settings().auth_failure_burst):
            app = create_app(Settings(database_url=url, scheduler_enabled=False,
                                      auth_failure_burst=burst), engine=engine)
            statements[0] = 0
            event.listen(engine, "before_cursor_execute", count)
            with TestClient(app, client=(f"203.0.113.{burst + 1}", 40000)) as client:
                t0 = time.perf_counter()
                codes = [client.get("/v1/enterprises",
                                    headers={"Authorization": f"Bearer zcp_guess{i:04d}"}
                                    ).status_code for i in range(ATTEMPTS)]
                seconds = time.perf_counter() - t0
            event.remove(engine, "before_cursor_execute", count)
            label = "off" if burst == 0 else f"burst {burst}"
            print(f"| {label} | {codes.count(401)} | {codes.count(429)} | {statements[0]} "
                  f"| {seconds:.2f} |")
        engine.dispose()


if __name__ == "__main__":
    main()

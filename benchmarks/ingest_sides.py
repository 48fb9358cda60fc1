"""The two timed sides of the ingest benchmark, each run in a fresh process by
:mod:`benchmarks.harness`: an HTTP client posting a CSV file to a running ``zcpark serve``, and
a raw binary COPY of the same rows into ``readings``. Reading the file and connecting are set-up,
outside the timing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.repositories.pgcopy import COLUMNS


def post_csv(base_url: str, key: str, path: str, rows: int) -> Callable[[], dict[str, Any]]:
    """POST the CSV at ``path`` to ``/v1/readings``; the timed call checks every row inserted."""
    body = Path(path).read_bytes()
    client = httpx.Client(base_url=base_url, timeout=1800,
                          headers={"Authorization": f"Bearer {key}", "content-type": "text/csv"})

    def call() -> dict[str, Any]:
        r = client.post("/v1/readings", content=body)
        if r.status_code != 200:
            raise RuntimeError(f"{r.status_code}: {r.text[:300]}")
        answer = r.json()
        if answer["inserted"] != rows:
            raise RuntimeError(f"inserted {answer['inserted']} of {rows}")
        return {"inserted": answer["inserted"], "unchanged": answer["unchanged"]}

    return call


def raw_copy(dsn: str, path: str) -> Callable[[], int]:
    """Binary COPY of the payload at ``path`` into ``readings`` and COMMIT."""
    payload = Path(path).read_bytes()
    conn = psycopg.connect(dsn)

    def call() -> int:
        with conn.cursor() as cur, cur.copy(
                f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN (FORMAT binary)") as cp:
            view = memoryview(payload)
            for i in range(0, len(payload), 8 << 20):
                cp.write(view[i:i + (8 << 20)])
        conn.commit()
        return len(payload)

    return call

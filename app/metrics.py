"""Prometheus metrics of the service (prometheus-client), served at ``GET /metrics``.

- ``zcpark_http_request_duration_seconds{method,route,status}``: latency histogram per route
  template (``/v1/meters/{code}/readings``, never the raw path, so labels stay few);
- ``zcpark_ingest_rows_total``, ``zcpark_ingest_bytes_total``, ``zcpark_ingest_batches_total
  {outcome}`` (stored | rejected), by the readings and telemetry uploads;
- ``zcpark_job_runs_total{job,outcome}`` and ``zcpark_job_duration_seconds{job}``: scheduled jobs;
- ``zcpark_db_pool_connections{state}``: the connection pool (checked out, idle, overflow).

With several uvicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` (``zcpark serve --workers`` does):
every worker writes its samples there and any worker answers for all of them.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_LATENCY = Histogram(
    "zcpark_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
    ("method", "route", "status"), buckets=LATENCY_BUCKETS_S)
INGEST_ROWS = Counter("zcpark_ingest_rows_total", "Rows received in stored upload batches.")
INGEST_BYTES = Counter("zcpark_ingest_bytes_total", "Bytes of upload bodies received.")
INGEST_BATCHES = Counter("zcpark_ingest_batches_total", "Upload batches by outcome.",
                         ("outcome",))
JOB_RUNS = Counter("zcpark_job_runs_total", "Scheduled job runs by outcome.", ("job", "outcome"))
JOB_SECONDS = Histogram("zcpark_job_duration_seconds", "Duration of scheduled job runs.",
                        ("job",), buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 1800))

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


class _PoolCollector(Collector):
    """Connections of every engine the service made, read when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("zcpark_db_pool_connections",
                                   "Database pool connections by state.", labels=("state",))
        totals = {"checked_out": 0.0, "idle": 0.0, "overflow": 0.0}
        for engine in list(_ENGINES):
            pool = engine.pool
            for state, reader in (("checked_out", "checkedout"), ("idle", "checkedin"),
                                  ("overflow", "overflow")):
                value = getattr(pool, reader, None)
                if callable(value):
                    totals[state] += max(float(value()), 0.0)
        for state, value in totals.items():
            family.add_metric([state], value)
        yield family


_POOL_COLLECTOR = _PoolCollector()
REGISTRY.register(_POOL_COLLECTOR)


def watch_engine(engine: Engine) -> None:
    """Report ``engine``'s pool in ``zcpark_db_pool_connections``."""
    _ENGINES.add(engine)


def observe_job(job: str, seconds: float, outcome: str) -> None:
    JOB_RUNS.labels(job, outcome).inc()
    JOB_SECONDS.labels(job).observe(seconds)


def metrics_response() -> Response:
    """The exposition text of this process, or of every worker in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_POOL_COLLECTOR)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """ASGI middleware timing each HTTP request under its route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_LATENCY.labels(Request(scope).method, template, str(status)).observe(
                time.perf_counter() - t0)

"""The FastAPI application factory. Add a domain's router to :data:`ROUTERS` (one line)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text
from starlette.types import ASGIApp

from app.api_docs import install_docs, install_method_not_allowed, install_openapi
from app.auth import KeyCache
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.edge import InputGuard, SecurityHeaders
from app.json_answers import ParkJSONResponse, set_park_zone
from app.limits import BodySizeLimit
from app.metrics import RequestMetrics, metrics_response, watch_engine
from app.params import reject_bad_text
from app.problems import (
    RETRY_AFTER_SECONDS_OUTAGE,
    Problem,
    database_problem,
    install_problem_handlers,
    problem_response,
)
from app.repositories.readings_store import readings_store
from app.routers import (
    alerts,
    carbon,
    core,
    dashboard,
    dr_plans,
    forecast,
    keys,
    pv,
    readings,
    registry,
    scenarios,
    storage,
    vpp,
)
from app.schemas.core import HealthOut
from app.services.keys import AuthFailureLimiter, KeyUseRecorder
from app.services.readings import IngestContext
from energy.site import PARK_TZ, PARK_ZONE

ROUTERS: list[APIRouter] = [
    core.router,
    readings.router,
    alerts.router,
    pv.router,
    storage.router,
    scenarios.router,
    carbon.router,
    dashboard.router,
    keys.router,
    registry.router,
    vpp.flex,
    vpp.dr,
    forecast.router,
    dr_plans.router,
]
"""Every router of the service; another domain adds its own here."""


class ZcparkApp(FastAPI):
    """FastAPI with :class:`~app.edge.SecurityHeaders` outside every other layer, so that even
    the answers of the outermost error handler carry the security headers."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app for ``settings`` (database_url must be set; the CLI starts the embedded server
    and fills it in). Migrations are not run here: ``zcpark serve`` / ``zcpark migrate`` do that."""
    settings = settings or get_settings()
    if engine is None:
        if settings.database_url is None:
            raise RuntimeError("database_url is not set (the CLI starts the embedded server)")
        engine = make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = None
        if settings.scheduler_enabled:
            from app.scheduler import start_scheduler

            scheduler = start_scheduler(engine, settings, store)
        ven = None
        if settings.openadr_vtn_url and settings.openadr_ven_id:
            from app.services.openadr_ven import ParkVen

            # one VEN per deployment: in the process that leads the scheduler
            ven = ParkVen(settings.openadr_vtn_url, settings.openadr_ven_id,
                          settings.openadr_ven_name, app.state.session_factory,
                          settings.grid_import_limit_kw,
                          leads=(lambda: scheduler.is_leader) if scheduler is not None else None)
            app.state.openadr_ven = ven
            ven.start()
        try:
            yield
        finally:
            if ven is not None:
                await ven.stop()
            if scheduler is not None:
                scheduler.shutdown()

    app = ZcparkApp(
        title="zcpark",
        summary="Energy and carbon service of the Lhasa ETDZ zero-carbon industrial park",
        version="0.1.0",
        lifespan=lifespan,
        # Path and query text is checked once for every route (NUL, unpaired surrogates).
        dependencies=[Depends(reject_bad_text)],
        docs_url=None,
        redoc_url=None,
        default_response_class=ParkJSONResponse,
    )
    set_park_zone(PARK_TZ)
    store = readings_store(engine)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.readings_store = store
    app.state.tz = PARK_ZONE
    app.state.ingest_context = IngestContext(engine=engine, settings=settings, store=store)
    app.state.auth_limiter = AuthFailureLimiter(settings.auth_failure_burst,
                                                settings.auth_failures_per_minute)
    app.state.key_use = KeyUseRecorder(engine)
    app.state.key_cache = KeyCache(settings.auth_cache_seconds)
    install_problem_handlers(app)
    install_method_not_allowed(app)
    # Added last = outermost: the size limit counts bytes before the guard reads the body.
    app.add_middleware(InputGuard, max_json_depth=settings.max_json_depth,
                       streamed_paths=frozenset({"/v1/readings"}))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics)
    watch_engine(engine)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/health", tags=["health"], response_model=HealthOut)
    def health(request: Request) -> JSONResponse:
        """200 when the database answers, 503 otherwise."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means unhealthy
            problem = database_problem(exc) or Problem(
                503, f"database unavailable: {type(exc).__name__}",
                retry_after_s=RETRY_AFTER_SECONDS_OUTAGE)
            return problem_response(problem, request.url.path)
        return JSONResponse({"status": "ok", "database": "ok",
                             "timescaledb": store.layout == "timescaledb"})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def metrics() -> Response:
        """Prometheus exposition: request latency by route, ingest, jobs, database pool."""
        return metrics_response()

    install_openapi(app)
    install_docs(app)
    return app

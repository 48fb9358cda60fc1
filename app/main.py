"""The FastAPI application factory. Add a domain's router to :data:`ROUTERS` (one line)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text

from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory, readings_on_timescale
from app.json_answers import ParkJSONResponse, set_park_zone
from app.limits import BodySizeLimit
from app.problems import (
    RETRY_AFTER_SECONDS_OUTAGE,
    Problem,
    database_problem,
    install_problem_handlers,
    problem_response,
)
from app.routers import alerts, carbon, core, dashboard, pv, readings, scenarios, storage
from app.services.readings import IngestContext

ROUTERS: list[APIRouter] = [
    core.router,
    readings.router,
    alerts.router,
    pv.router,
    storage.router,
    scenarios.router,
    carbon.router,
    dashboard.router,
]
"""Every router of the service; another domain adds its own here."""


DOCS_ASSETS = "/static-docs"
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
            "'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; font-src 'self' data:")
"""The docs pages load nothing from outside this service."""
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_IMAGE = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="


def add_offline_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their scripts, styles and favicon served from
    the ``fastapi-offline`` wheel, so they render without internet access."""
    assets = resources.files("fastapi_offline") / "static"
    # ReDoc's sidebar shows a logo from its CDN; the copy served here points at a blank image.
    redoc_js = (assets / "redoc.standalone.js").read_text(encoding="utf-8").replace(
        REDOC_CDN_LOGO, BLANK_IMAGE)

    @app.get(f"{DOCS_ASSETS}/redoc.standalone.js", include_in_schema=False)
    def redoc_script() -> Response:
        return Response(redoc_js, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    favicon = f"{DOCS_ASSETS}/favicon.png"
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=root + favicon)
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=root + openapi_url, title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=root + favicon, with_google_fonts=False)
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page


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

            scheduler = start_scheduler(engine, settings)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()

    app = FastAPI(
        title="zcpark",
        summary="Energy and carbon service of the Lhasa ETDZ zero-carbon industrial park",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        default_response_class=ParkJSONResponse,
    )
    set_park_zone(settings.timezone)
    with engine.connect() as conn:
        timescale = readings_on_timescale(conn)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.timescale = timescale
    app.state.tz = ZoneInfo(settings.timezone)
    app.state.ingest_context = IngestContext(engine=engine, settings=settings, timescale=timescale)
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    for router in ROUTERS:
        app.include_router(router)
    add_offline_docs(app)

    @app.get("/health", tags=["health"])
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
        return JSONResponse({"status": "ok", "database": "ok", "timescaledb": timescale})

    return app

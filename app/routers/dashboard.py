"""The operators' dashboard (一图统览): its pages and the one-answer overview API.

The pages are static (HTML, JS, CSS and the vendored ECharts under app/static); they hold no data
and need no key. Every figure comes from the /v1 API with the same ``Authorization: Bearer``
header as any other client: the login page keeps the key in ``sessionStorage`` (gone when the
tab closes) instead of a cookie, so the API keeps one authentication scheme and a browser never
sends the key by itself (no cross-site request forgery to defend against). The pages load no
third-party script (Content-Security-Policy ``script-src 'self'``) and write API text with
``textContent`` only, which is what keeps the key from other scripts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from app.auth import PrincipalDep, SessionDep
from app.deps import ReadingsStoreDep
from app.labels import dashboard_script
from app.params import Day
from app.problems import Problem
from app.schemas.overview import EnterpriseOverviewOut, OverviewModulesOut, OverviewOut
from app.services import overview as svc
from app.services import overview_modules as panels

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.auth import Principal

router = APIRouter(tags=["dashboard"])

STATIC_DIR = Path(str(resources.files("app").joinpath("static")))
TEMPLATE = resources.files("app").joinpath("templates", "dashboard.html")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'")

MODULE_ROUTES: dict[str, tuple[str, ...]] = {
    "pv": ("/v1/pv/",),
    "storage": ("/v1/storage",),
    "carbon": ("/v1/targets/status", "/v1/indicators", "/v1/carbon/"),
    "scenarios": ("/v1/scenarios",),
}
"""A module is available when the app serves a route under one of its prefixes; the dashboard
shows "not available" for the others instead of figures."""


def _route_paths(routes: Iterable[Any]) -> Iterator[str]:
    """Every path the app serves; included routers are nested in recent FastAPI versions."""
    for route in routes:
        path = getattr(route, "path", "")
        if path:
            yield path
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _route_paths(inner.routes)


def available_modules(request: Request, session: Session | None = None,
                      principal: Principal | None = None) -> dict[str, bool]:
    """Which panels have something to show: the module's API is served and, for this key, a PV
    array (pv) or a storage station (storage) is visible, and scenarios may be run (operators
    and planners)."""
    paths = list(_route_paths(request.app.routes))
    served = {name: any(p.startswith(prefix) for p in paths for prefix in prefixes)
              for name, prefixes in MODULE_ROUTES.items()}
    if session is None or principal is None:
        return served
    from app.services import pv as pv_svc
    from app.services import storage as storage_svc

    return {
        "pv": served["pv"] and bool(pv_svc.list_arrays(session, principal)),
        "storage": served["storage"] and bool(storage_svc.list_assets(session, principal)),
        "carbon": served["carbon"],
        "scenarios": served["scenarios"] and principal.role in ("operator", "planner"),
    }


def _today(request: Request) -> date:
    return datetime.now(request.app.state.tz).date()


PeriodQ = Annotated[Literal["day", "week", "month", "year"], Query()]
DateQ = Annotated[Day | None, Query(description="a day inside the period (Asia/Shanghai); "
                                     "default today")]


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/dashboard", include_in_schema=False)
def dashboard_page() -> HTMLResponse:
    return HTMLResponse(TEMPLATE.read_text(encoding="utf-8"),
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff"})


@router.get("/dashboard/static/i18n.js", include_in_schema=False)
def dashboard_labels() -> Response:
    """The dashboard's labels, rendered from app/data/labels.yaml (the report's home too)."""
    return Response(dashboard_script(), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@router.get("/dashboard/static/{path:path}", include_in_schema=False)
def dashboard_static(path: str) -> Response:
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR.resolve()) or not target.is_file():
        raise Problem(404, f"No file {path!r}.")
    cache = "public, max-age=86400" if "/vendor/" in f"/{path}" else "no-cache"
    return FileResponse(target, headers={"Cache-Control": cache,
                                         "X-Content-Type-Options": "nosniff"})


@router.get("/v1/overview", response_model_exclude_unset=True)
def overview(request: Request, session: SessionDep, store: ReadingsStoreDep,
             principal: PrincipalDep,
             period: PeriodQ = "day", date: DateQ = None) -> OverviewOut:
    """The first screen in one answer: today's and this month's tiles, the energy balance over
    the period, the zone and enterprise ranking with sparkline series and the open alerts,
    read from rollups only. An enterprise key gets its own enterprise only."""
    t0 = time.perf_counter()
    day = date or _today(request)
    modules = available_modules(request, session, principal)
    answer = svc.build_overview(session, principal, period, day,
                                store=store, modules=modules)
    if modules["storage"]:
        answer["storage"] = panels.storage_summary(session, principal, day,
                                                   datetime.now(request.app.state.tz))
    answer["elapsed_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    return OverviewOut.model_validate(answer)


@router.get("/v1/overview/modules", response_model_exclude_unset=True)
def overview_modules(request: Request, session: SessionDep, store: ReadingsStoreDep,
                     principal: PrincipalDep,
                     period: PeriodQ = "day", date: DateQ = None) -> OverviewModulesOut:
    """The first screen's slower panels, asked for right after it: PV expected output
    (computed from irradiance per request) and carbon against targets (the year's
    ledger, indicators and phase status). ``null`` for a module that is not live."""
    t0 = time.perf_counter()
    day = date or _today(request)
    svc.period_window(period, day)  # validates period
    modules = available_modules(request, session, principal)
    answer: dict[str, Any] = {"period": period, "date": day, "modules": modules,
                              "pv": None, "carbon": None}
    if modules["pv"]:
        answer["pv"] = panels.pv_expected(session, principal, period, day,
                                          store=store)
    if modules["carbon"]:
        answer["carbon"] = panels.carbon_summary(session, principal, day.year,
                                                 store=store)
    answer["elapsed_ms"] = round(1000 * (time.perf_counter() - t0), 1)
    return OverviewModulesOut.model_validate(answer)


@router.get("/v1/overview/enterprises/{code}", response_model_exclude_unset=True)
def enterprise_overview(code: str, request: Request, session: SessionDep, store: ReadingsStoreDep,
                        principal: PrincipalDep, period: PeriodQ = "day",
                        date: DateQ = None) -> EnterpriseOverviewOut:
    """One enterprise's meters with totals and series over the period (404 for another
    enterprise's key)."""
    return EnterpriseOverviewOut.model_validate(svc.enterprise_meters(
        session, principal, code, period, date or _today(request), store=store))

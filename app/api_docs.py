"""The API's description of itself: problem+json answers in OpenAPI, 405 with ``Allow``, and the
interactive documentation pages (/docs, /redoc) under a Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.problems import Problem, problem_response

PROBLEM_MEDIA_TYPE = "application/problem+json"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ProblemError(BaseModel):
    """One rejected field: row (1 = first record or CSV line after the header; null for a single
    object or a parameter), field, message."""

    model_config = ConfigDict(extra="allow")
    row: int | None = None
    field: str | None = None
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, the body of every 4xx and 5xx answer."""

    model_config = ConfigDict(extra="allow", title="Problem")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    error_count: int | None = None
    errors: list[ProblemError] | None = None


DESCRIPTIONS: dict[str, str] = {
    "400": "Bad request (the body cannot be read)",
    "401": "No valid API key",
    "403": "The key's role may not do this",
    "404": "Not found, or not visible to this key",
    "409": "Conflict with the stored state",
    "413": "Body or batch too large",
    "415": "Unsupported media type",
    "422": "Invalid input; ``errors`` names row and field",
    "429": "Too many requests; retry after ``Retry-After`` seconds",
    "500": "Unexpected error",
    "503": "Database unavailable; retry after ``Retry-After`` seconds",
}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    out = ["422", "500", "503"]
    if path != "/health":
        out += ["401", "403", "404", "429"]
    if method in ("post", "put", "patch", "delete"):
        out += ["400", "409", "413", "415"]
    return sorted(out)


def add_problem_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare problem+json for the 4xx/5xx answers of every operation (replacing FastAPI's
    ``HTTPValidationError``, which the service never sends)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    defs = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(defs.pop("$defs", {}))
    components["Problem"] = defs
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            # the common statuses, and any 4xx/5xx a route declares itself
            declared = {str(s) for s in responses if str(s)[:1] in ("4", "5")}
            for status in sorted(set(_statuses(path, method, operation)) | declared):
                response = responses.get(status)
                if response is None or status == "422":
                    response = responses[status] = {
                        "description": DESCRIPTIONS.get(status, "Error")}
                response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ref}}
    text = repr(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"/{unused}'" not in text:
            components.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` with problem+json answers declared (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                 description=app.description, routes=app.routes)
            app.openapi_schema = add_problem_responses(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(request: Request) -> list[str]:
    """Methods some route of the app answers on this request's path."""
    allowed = []
    for method in METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_method_not_allowed(app: FastAPI) -> None:
    """405 answers name the methods the path does answer (``Allow``, RFC 9110 15.5.6)."""

    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        allowed = allowed_methods(request)
        if not allowed and isinstance(exc, StarletteHTTPException) and exc.headers:
            allowed = [m.strip() for m in exc.headers.get("Allow", "").split(",") if m.strip()]
        problem = Problem(405, f"{request.method} is not allowed here; use "
                          f"{', '.join(allowed) or 'another path'}.")
        response = problem_response(problem, request.url.path)
        response.headers["Allow"] = ", ".join(allowed)
        return response

    app.add_exception_handler(405, method_not_allowed)


# --- documentation pages ---------------------------------------------------------------------
DOCS_ASSETS = "/static-docs"
"""Swagger UI, ReDoc and the favicon, served from the ``fastapi-offline`` wheel: the pages load
nothing from outside this service."""
REDOC_CDN_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_IMAGE = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="
DOCS_CSP = ("default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
            "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; "
            "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'none'")
"""Everything from this service; the pages' inline scripts are allowed by hash, nothing else
inline runs."""


def csp_for_page(html: str) -> str:
    """:data:`DOCS_CSP` with the sha256 of each inline ``<script>`` of ``html``."""
    hashes = ["'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
              for s in re.findall(r"<script>(.*?)</script>", html, flags=re.S)]
    return DOCS_CSP.format(scripts=" ".join(hashes)).replace("  ", " ").replace(" ;", ";")


def _with_csp(page: Callable[[str, str], HTMLResponse]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        response = page(root + (request.app.openapi_url or "/openapi.json"), root)
        response.headers["Content-Security-Policy"] = csp_for_page(bytes(response.body).decode())
        return response

    return endpoint


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc working offline; create the app with ``docs_url=None,
    redoc_url=None``."""
    assets = resources.files("fastapi_offline") / "static"
    # ReDoc's sidebar shows a logo from its CDN; the copy served here points at a blank image.
    redoc_js = (assets / "redoc.standalone.js").read_text(encoding="utf-8").replace(
        REDOC_CDN_LOGO, BLANK_IMAGE)

    async def redoc_script(request: Request) -> Response:
        return Response(redoc_js, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.add_route(f"{DOCS_ASSETS}/redoc.standalone.js", redoc_script, include_in_schema=False)
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    app.add_route("/docs", _with_csp(lambda url, root: get_swagger_ui_html(
        openapi_url=url, title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png")), include_in_schema=False)
    app.add_route("/redoc", _with_csp(lambda url, root: get_redoc_html(
        openapi_url=url, title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{DOCS_ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png", with_google_fonts=False)),
        include_in_schema=False)

"""RFC 9457 problem details (``application/problem+json``) for every error the API returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_TYPE_BASE = "https://zcpark.example/problems/"
MAX_ERRORS_LISTED = 1000

TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}


class Problem(Exception):
    """An error answered as problem+json.

    ``errors``: for batch rejections, ``[{"row": n, "field": "...", "message": "..."}]``.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
        self.title = title or TITLES.get(status, "Error")
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            out["instance"] = instance
        if self.errors is not None:
            out["error_count"] = len(self.errors)
            out["errors"] = self.errors[:MAX_ERRORS_LISTED]
        out.update(self.extra)
        return out


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if problem.status == 401 else {}
    headers.update(problem.headers or {})
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=headers,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        row = next((int(p) + 1 for p in loc[1:] if p.isdigit()), None)
        field = ".".join(p for p in loc[1:] if not p.isdigit()) or ".".join(loc)
        out.append({"row": row, "field": field, "message": err.get("msg", "invalid")})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error (ours, FastAPI's validation, Starlette's HTTP errors) to problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = Problem(422, "The request is invalid.", kind="validation",
                          errors=_validation_errors(exc))
        return problem_response(problem, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = Problem(exc.status_code, str(exc.detail))
        return problem_response(problem, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(Problem(500, "Unexpected error."), request.url.path)

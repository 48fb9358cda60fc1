"""RFC 9457 problem details (``application/problem+json``) for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypedDict

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import check_violation_name
from app.errors import BatchRejected, Conflict, DomainError, Invalid, NotFound

log = logging.getLogger(__name__)

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
    429: "Too many requests",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}

RETRY_AFTER_SECONDS_OUTAGE = 5
"""Retry-After of a 503 while the database cannot be reached (a restart takes seconds)."""
RETRY_AFTER_SECONDS_CONFLICT = 1
"""Retry-After of a 503 when the transaction lost a race (deadlock, serialization failure)."""


VALIDATION = "validation"
"""One field of the request (query, path or body field) is refused; ``errors`` names it."""
BATCH_REJECTED = "batch-rejected"
"""Rows of an uploaded batch (readings, activity data, instruments) are refused, or the batch
holds none; ``errors`` names each row and field. Nothing of the batch is stored."""
MALFORMED_CSV = "malformed-csv"
"""The CSV body cannot be read at all (encoding, quoting)."""
MALFORMED_JSON = "malformed-json"
"""The JSON body cannot be read, or is not a list of objects."""
MISSING_COLUMNS = "missing-columns"
"""A required column is missing from the upload."""
JSON_TOO_DEEP = "json-too-deep"
"""The JSON body is nested deeper than the service reads."""
BATCH_TOO_LARGE = "batch-too-large"
"""The upload holds more rows than one batch may (413)."""


class RowError(TypedDict):
    """One refused value: the batch row (1-based, ``None`` for the request as a whole), the
    field and why."""

    row: int | None
    field: str
    message: str


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
        errors: Sequence[Mapping[str, Any]] | None = None,
        retry_after_s: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or TITLES.get(status, "error").lower().replace(" ", "-")
        self.title = title or TITLES.get(status, "Error")
        self.errors = errors
        self.retry_after_s = retry_after_s
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


def invalid(field: str, message: str, detail: str | None = None) -> Problem:
    """A request field refused (kind ``validation``, 422): one error naming the field, no row.
    ``detail`` defaults to ``"<field>: <message>"``."""
    return invalid_fields([{"field": field, "message": message}], detail or f"{field}: {message}")


def invalid_fields(errors: Iterable[Mapping[str, Any]], detail: str) -> Problem:
    """Several request fields refused (kind ``validation``, 422); each ``{"field", "message"}``
    becomes an error with ``row`` null, as in every other problem."""
    return Problem(422, detail, kind=VALIDATION,
                   errors=[RowError(row=e.get("row"), field=str(e["field"]),
                                    message=str(e["message"])) for e in errors])


def batch_rejected(errors: list[RowError], detail: str | None = None) -> Problem:
    """Rows of an uploaded batch refused (kind ``batch-rejected``, 422); nothing was stored."""
    return Problem(422, detail or f"The batch was rejected ({len(errors)} error(s)); nothing "
                   "was stored.", kind=BATCH_REJECTED, errors=list(errors))


def malformed(fmt: Literal["csv", "json"], message: str, detail: str | None = None) -> Problem:
    """The body cannot be read as CSV or JSON (kind ``malformed-csv`` / ``malformed-json``)."""
    kind = MALFORMED_CSV if fmt == "csv" else MALFORMED_JSON
    return Problem(422, detail or f"The {fmt.upper()} cannot be read: {message}", kind=kind,
                   errors=[RowError(row=None, field="body", message=message)])


def missing_columns(columns: Sequence[str]) -> Problem:
    """Required columns absent from an upload (kind ``missing-columns``), one error each."""
    return Problem(422, f"Missing column(s): {', '.join(columns)}.", kind=MISSING_COLUMNS,
                   errors=[RowError(row=None, field=c, message="column missing")
                           for c in columns])


def field_problem(status: int, kind: str, field: str, message: str, detail: str,
                  **extra: Any) -> Problem:
    """A request refused for one field under a kind of its own (e.g. ``too-many-points``,
    ``overlapping-event``): one error naming the field, no row."""
    return Problem(status, detail, kind=kind,
                   errors=[RowError(row=None, field=field, message=message)], **extra)


def json_too_deep(max_depth: int, detail: str) -> Problem:
    """A JSON body nested deeper than the service reads (kind ``json-too-deep``)."""
    return field_problem(422, JSON_TOO_DEEP, "body", f"nested deeper than {max_depth} levels",
                         detail)


def batch_too_large(detail: str) -> Problem:
    """More rows than one batch may hold (413, kind ``batch-too-large``)."""
    return Problem(413, detail, kind=BATCH_TOO_LARGE)


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    headers: dict[str, str] = {}
    if problem.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if problem.retry_after_s is not None:
        headers["Retry-After"] = str(problem.retry_after_s)
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type="application/problem+json",
        headers=headers or None,
    )


def database_problem(exc: BaseException) -> Problem | None:
    """The 503 for a database error that retrying can cure (409 for a record a concurrent
    request stored first), or None for any other error.

    Covers a server that is down, restarting or unreachable (connection refused, terminated,
    admin shutdown), an exhausted connection pool, and a transaction that lost a race
    (serialization failure, deadlock, lock timeout: SQLSTATE class 40 and 55P03).
    """
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate.startswith("40") or sqlstate == "55P03":
        return Problem(503, "The database could not complete the transaction because of a "
                       "concurrent one; nothing was stored. Retry. / 并发事务冲突，未写入任何数据，"
                       "请重试。", kind="transaction-conflict",
                       retry_after_s=RETRY_AFTER_SECONDS_CONFLICT)
    if sqlstate == "23505":  # a concurrent request created the same record first
        return Problem(409, "A record with the same key was stored by a concurrent request; "
                       "nothing was stored by this one. / 同一记录已由并发请求写入，本次未写入。",
                       kind="conflict", retry_after_s=RETRY_AFTER_SECONDS_CONFLICT)
    outage = isinstance(exc, (sa_exc.TimeoutError, psycopg.OperationalError,
                              psycopg.InterfaceError))
    if isinstance(exc, sa_exc.DBAPIError):
        outage = outage or exc.connection_invalidated or isinstance(
            exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
    if not outage:
        return None
    return Problem(503, "The database is unavailable; nothing was stored by this request. "
                   "Retry shortly. / 数据库暂不可用，本次请求未写入任何数据，请稍后重试。",
                   kind="database-unavailable", retry_after_s=RETRY_AFTER_SECONDS_OUTAGE)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        row = next((int(p) + 1 for p in loc[1:] if p.isdigit()), None)
        # Union members show up as tags such as "constrained-float" or "list[...]": not fields.
        names = [p for p in loc[1:] if not p.isdigit() and "[" not in p and "-" not in p]
        field = ".".join(names) or ".".join(loc)
        out.append({"row": row, "field": field, "message": err.get("msg", "invalid")})
    return out


def check_violation(exc: IntegrityError) -> Problem | None:
    """A named CHECK constraint refused a row that validation let through: a 422 naming the
    column (constraints ``<column>_finite`` refuse NaN and ±Infinity). None for other errors."""
    name = check_violation_name(exc)
    if name is None:
        return None
    field = name.removesuffix("_finite")
    message = ("not a finite number" if name.endswith("_finite")
               else f"refused by the database's check {name}")
    return invalid(field, message, f"A value was refused by the database: {field}: {message}; "
                   "nothing was stored.")


DOMAIN_STATUS: dict[type[DomainError], int] = {NotFound: 404, Conflict: 409, Invalid: 422}
"""The answer status of each domain error (:mod:`app.errors`)."""


def problem_of(exc: Problem | DomainError) -> Problem:
    """The problem+json answer of a domain error (a problem stays as it is)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, Invalid):
        shaped = (batch_rejected([RowError(row=None, field=field, message=message)
                                  for field, message in exc.errors], exc.detail)
                  if isinstance(exc, BatchRejected) else
                  invalid_fields([{"field": field, "message": message}
                                  for field, message in exc.errors], exc.detail))
        shaped.extra.update(exc.extra)
        return shaped
    status = next((code for cls, code in DOMAIN_STATUS.items() if isinstance(exc, cls)), 422)
    return Problem(status, exc.detail, kind=exc.kind, **exc.extra)


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error (ours, FastAPI's validation, Starlette's HTTP errors) to problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(problem_of(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = Problem(422, "The request is invalid.", kind=VALIDATION,
                          errors=_validation_errors(exc))
        return problem_response(problem, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = Problem(exc.status_code, str(exc.detail))
        return problem_response(problem, request.url.path)

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        problem = check_violation(exc) if isinstance(exc, IntegrityError) else None
        problem = problem or database_problem(exc)
        if problem is None:
            log.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
            problem = Problem(500, "Unexpected error.")
        return problem_response(problem, request.url.path)

    # Database errors are answered here (not by the catch-all below, which also re-raises).
    for cls in (sa_exc.DBAPIError, sa_exc.TimeoutError, psycopg.Error):
        app.add_exception_handler(cls, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(Problem(500, "Unexpected error."), request.url.path)

"""Request parameters with the service's bounds: ids, instants, days, windows and clean text.

Every bound answers 422 problem+json naming the parameter (through FastAPI's validation, or a
:class:`~app.problems.Problem` for checks across parameters).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Path, Request
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

from app.problems import invalid

MAX_ID = 2**63 - 1
"""Largest id a database bigint holds; larger ids are answered 422, not looked up."""
YEAR_MIN, YEAR_MAX = 2000, 2100
"""Years the service reads and writes (dates, instants and accounting periods)."""

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YEAR = r"(20[0-9]{2}|2100)"
_MONTH_DAY = r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
DAY_PATTERN = rf"^{_YEAR}-{_MONTH_DAY}$"
INSTANT_PATTERN = (rf"^{_YEAR}-{_MONTH_DAY}[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]"
                   r"(:[0-5][0-9](\.[0-9]+)?)?([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$")
PERIOD_PATTERN = rf"^{_YEAR}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
"""What OpenAPI says of days, instants and accounting periods (the validators below decide)."""
_INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _day_text(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` text is a day (pydantic alone also reads numbers as Unix times)."""
    if isinstance(value, str) and not _DAY_RE.match(value):
        raise ValueError("use YYYY-MM-DD")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("use YYYY-MM-DD, not a number")
    return value


def _instant_text(value: Any) -> Any:
    """Only ISO 8601 text is an instant (pydantic alone also reads numbers as Unix times)."""
    if isinstance(value, str) and not _INSTANT_RE.match(value):
        raise ValueError("use ISO 8601 with a UTC offset, e.g. 2026-03-01T00:00:00+08:00")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("use ISO 8601 with a UTC offset, not a number")
    return value


def _in_years(value: date) -> date:
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"year must be within {YEAR_MIN}..{YEAR_MAX}")
    return value


Day = Annotated[date, BeforeValidator(_day_text), AfterValidator(_in_years),
                WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN})]
"""A calendar day ``YYYY-MM-DD`` within :data:`YEAR_MIN`..:data:`YEAR_MAX`."""
Instant = Annotated[AwareDatetime, BeforeValidator(_instant_text), AfterValidator(_in_years),
                    WithJsonSchema({"type": "string", "format": "date-time",
                                    "pattern": INSTANT_PATTERN})]
"""An ISO 8601 instant with a UTC offset (naive times rejected), years bounded like :data:`Day`."""
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive 64-bit id")]


def check_window(start: datetime, end: datetime, *, max_days: float | None = None,
                 start_field: str = "start", end_field: str = "end") -> None:
    """[start, end) is ordered and, with ``max_days``, at most that long."""
    for name, value in ((start_field, start), (end_field, end)):
        if value.tzinfo is None:
            raise invalid(name, "naive timestamp", f"{name} needs a UTC offset.")
    if end <= start:
        raise invalid(end_field, "not after start", f"{end_field} must be after {start_field}.")
    if max_days is not None and end - start > timedelta(days=max_days):
        raise invalid(end_field, f"window longer than {max_days:g} days")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or looked up as text (NUL, unpaired surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate"
    return None


async def reject_bad_text(request: Request) -> None:
    """Path and query parameters: no NUL or unpaired surrogate reaches a route (422 naming it)."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (why := text_problem(value)):
            raise invalid(name, why)
    for name, value in request.query_params.multi_items():
        why = text_problem(name) or text_problem(value)
        if why:
            raise invalid(name if not text_problem(name) else "query", why)

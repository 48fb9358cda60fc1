"""JSON answers in one form: every timestamp in ISO 8601 with the park's offset (never ``Z`` next
to ``+08:00`` in one answer), every float without binary noise (``35.2``, not
``35.199999999999996``)."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi.responses import JSONResponse

from energy.site import PARK_ZONE

SIGNIFICANT_DIGITS = 12
"""Floats keep 12 significant digits: far below any meter's resolution, far above float noise."""
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")
_TZ = PARK_ZONE
_FIXED_SUFFIX: str | None = "+08:00"
"""The zone's offset when it never changes (no daylight saving): strings ending in it are kept."""


def set_park_zone(name: str) -> None:
    """The zone answers show their timestamps in (the park's, ``energy.site.PARK_TZ``)."""
    global _TZ, _FIXED_SUFFIX
    _TZ = ZoneInfo(name)
    offsets = {datetime(2026, m, 1, tzinfo=_TZ).isoformat()[-6:] for m in (1, 7)}
    _FIXED_SUFFIX = offsets.pop() if len(offsets) == 1 else None


def _tidy_float(value: float) -> float:
    # only long representations can carry noise (35.2 prints as 35.2 already)
    if len(repr(value)) > SIGNIFICANT_DIGITS + 2 and math.isfinite(value):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def _tidy_str(value: str) -> str:
    if _FIXED_SUFFIX is not None and value.endswith(_FIXED_SUFFIX):
        return value
    if len(value) >= 16 and value[4:5] == "-" and _ISO.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(_TZ).isoformat()
    return value


def tidy(value: Any) -> Any:
    """``value`` (JSON-able: dicts, lists, str, numbers) with timestamps in the park's offset and
    floats rounded to :data:`SIGNIFICANT_DIGITS`. Dispatches on the exact type first (the common
    case of a long series costs one lookup per value), subclasses after."""
    kind = type(value)
    if kind is float:
        return _tidy_float(value)
    if kind is str:
        return _tidy_str(value)
    if kind is dict:
        return {k: _TIDY.get(type(v), tidy)(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_TIDY.get(type(v), tidy)(v) for v in value]
    if kind is int or kind is bool or value is None:
        return value
    if isinstance(value, float):
        return _tidy_float(float(value))
    if isinstance(value, str):
        return _tidy_str(str(value))
    if isinstance(value, dict):
        return {k: tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(_TZ).isoformat()
    return value


def _same(value: Any) -> Any:
    return value


_TIDY: dict[type, Any] = {float: _tidy_float, str: _tidy_str, int: _same, bool: _same,
                          type(None): _same}
"""Leaf handlers by exact type (containers and anything else go through :func:`tidy`)."""


def dumps(content: Any) -> bytes:
    """The answer's bytes: :func:`tidy` then orjson (UTF-8, compact); the standard library
    writes what orjson refuses (an int beyond 64 bits, a type it does not know)."""
    tidied = tidy(content)
    try:
        return orjson.dumps(tidied, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(tidied, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8")


class ParkJSONResponse(JSONResponse):
    """The service's JSON answers (see the module docstring)."""

    def render(self, content: Any) -> bytes:
        return dumps(content)

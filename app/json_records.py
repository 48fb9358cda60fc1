"""Reading an upload body that is a list of records: JSON (readings, activity data,
instruments) or CSV with a header (activity data, instruments)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from app.problems import Problem, malformed, missing_columns


def json_records(body: bytes, wrapper: str) -> list[dict[str, Any]]:
    """The records of ``[{…}, …]`` or ``{wrapper: [{…}, …]}``; a 422 problem naming the body
    when the JSON cannot be read or is not a list of objects."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise malformed("json", str(exc)) from None
    items = doc.get(wrapper) if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise malformed("json", "not a list of objects",
                        f"Send a JSON list of {wrapper} or {{\"{wrapper}\": [...]}}.")
    return items


def body_records(body: bytes, content_type: str, wrapper: str,
                 required: tuple[str, ...]) -> list[dict[str, Any]]:
    """The records of a JSON body (see :func:`json_records`) or of a CSV body with a header
    holding the ``required`` columns; 422 naming what cannot be read, 415 for other types."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return json_records(body, wrapper)
    if kind in ("text/csv", "text/plain", "application/csv", ""):
        try:
            reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
            items = [dict(r) for r in reader]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise malformed("csv", str(exc)) from None
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise missing_columns(missing)
        return items
    raise Problem(415, f"Send text/csv or application/json, not {kind!r}.")

"""Reading a JSON upload body that is a list of records (readings, activity data)."""

from __future__ import annotations

import json
from typing import Any

from app.problems import Problem


def json_records(body: bytes, wrapper: str) -> list[dict[str, Any]]:
    """The records of ``[{…}, …]`` or ``{wrapper: [{…}, …]}``; a 422 problem naming the body
    when the JSON cannot be read or is not a list of objects."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Problem(422, f"The JSON cannot be read: {exc}", kind="malformed-json",
                      errors=[{"row": None, "field": "body", "message": str(exc)}]) from None
    items = doc.get(wrapper) if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Problem(422, f"Send a JSON list of {wrapper} or {{\"{wrapper}\": [...]}}.",
                      kind="malformed-json",
                      errors=[{"row": None, "field": "body", "message": "not a list of objects"}])
    return items

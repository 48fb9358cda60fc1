"""ASGI middleware at the edge of the service: request bodies checked before any route parses them,
and the security headers every answer carries.

:class:`InputGuard` refuses, with 422 problem+json naming row and field, a JSON body nested deeper
than a limit (the parsers would recurse on it), a JSON string holding NUL or an unpaired
surrogate, and a text (CSV) body holding a NUL byte; nothing reaches a route, so nothing is
written. :class:`SecurityHeaders` adds ``X-Content-Type-Options``, ``Referrer-Policy`` and, on an
HTML page that sets none, a restrictive Content-Security-Policy.
"""

from __future__ import annotations

import csv
import json
import re
from typing import Any

import numpy as np
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.params import text_problem
from app.problems import Problem, json_too_deep, problem_response

_KEEP_JSON_STRUCTURE = bytes(range(256)).translate(None, b'"[]{}')
"""Every byte but quotes and brackets (deleted before measuring the nesting depth)."""
_SUSPECT_ESCAPE = re.compile(
    rb"\\u0000"
    rb"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
"""``\\u0000`` or a lone surrogate escape: the body is then parsed to name the field."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
"""CSP of an HTML page that sets none (the monthly report: inline styles and SVG, no script)."""


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects in a JSON text, vectorised (brackets inside strings
    do not count); an unbalanced text still answers a number and fails later in the parser.
    Strings are told apart by the parity of the quotes before each byte (one XOR scan); only
    the brackets outside them are then summed."""
    if b"\\" in body:
        # Escaped backslashes first, then escaped quotes: what is left of '"' delimits strings.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = body.translate(None, _KEEP_JSON_STRUCTURE)
    if not kept:
        return 0
    v = np.frombuffer(kept, np.uint8)
    quote = v == ord('"')
    brackets = np.flatnonzero(~quote)
    if len(brackets) < len(v):
        inside_string = np.bitwise_xor.accumulate(quote.view(np.uint8))
        brackets = brackets[inside_string[brackets] == 0]
    b = v[brackets]
    step = np.where((b == ord("[")) | (b == ord("{")), 1, -1).astype(np.int32)
    return int(np.cumsum(step).max(initial=0))


def _json_text_error(doc: Any) -> dict[str, Any] | None:
    """The first string (value or key) of ``doc`` holding NUL or an unpaired surrogate, as an
    error naming its row (position in a top-level list of records) and field path."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            why = text_problem(node)
        elif isinstance(node, dict):
            why = next((w for k in node if (w := text_problem(k))), None)
            stack.extend((v, (*path, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            why = None
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(node))))
        else:
            why = None
        if why:
            # A list of records, bare or wrapped ({"readings": [...]}): its index is the row.
            lead = path[1:] if path and isinstance(path[0], str) else path
            row = lead[0] + 1 if lead and isinstance(lead[0], int) else None
            field = ".".join(p for p in path if isinstance(p, str)) or "body"
            return {"row": row, "field": field, "message": why}
    return None


def _csv_nul_error(body: bytes) -> dict[str, Any]:
    """Row (1 = first line after the header) and column name of the first NUL byte."""
    pos = body.index(b"\x00")
    row = body.count(b"\n", 0, pos)
    header_end = body.find(b"\n")
    header = next(csv.reader([body[: header_end if header_end >= 0 else len(body)]
                              .decode("utf-8", "replace")]), [])
    column = body.count(b",", body.rfind(b"\n", 0, pos) + 1, pos)
    if row == 0:
        field = "header"
    else:
        field = header[column] if column < len(header) else f"column {column + 1}"
    message = "contains a NUL character (U+0000)"
    return {"row": row or None, "field": field.replace("\x00", "\\0"), "message": message}


def body_problem(body: bytes, content_type: str, max_json_depth: int) -> Problem | None:
    """Why a request body is refused before any route reads it, or None."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        depth = json_depth(body)
        if depth > max_json_depth:
            return json_too_deep(max_json_depth, f"The JSON is nested {depth} levels deep; at "
                                 f"most {max_json_depth} are read.")
        if b"\\u" in body and _SUSPECT_ESCAPE.search(body):
            try:
                error = _json_text_error(json.loads(body))
            except (ValueError, RecursionError):
                return None  # malformed: the route's parser answers it
            if error is not None:
                return Problem(422, f"{error['field']}: {error['message']}", kind="validation",
                               errors=[error])
        return None
    if b"\x00" in body and not kind.startswith("multipart/"):
        error = _csv_nul_error(body)
        return Problem(422, f"{error['field']}: {error['message']}", kind="validation",
                       errors=[error])
    return None


class InputGuard:
    """Reads a request body whole (the size limit sits outside), checks it, then hands it on.
    Requests without an ``Authorization`` header pass unread (their route answers 401), and so
    do POSTs to ``streamed_paths``: routes that read their body in chunks and make the same
    checks as they go (a large upload is never held whole)."""

    def __init__(self, app: ASGIApp, max_json_depth: int,
                 streamed_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_json_depth = max_json_depth
        self.streamed_paths = streamed_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in BODY_METHODS
                or not any(name == b"authorization" for name, _ in scope.get("headers", []))
                or (scope["method"] == "POST" and scope["path"] in self.streamed_paths)):
            # Every route taking a body needs a key: without one it answers 401 before reading,
            # so an anonymous client never makes the service buffer a body.
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = ""
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                content_type = value.decode("latin-1")
        problem = body_problem(body, content_type, self.max_json_depth) if body else None
        if problem is not None:
            await problem_response(problem, scope.get("path"))(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class SecurityHeaders:
    """``nosniff`` and ``Referrer-Policy`` on every answer, a CSP on HTML pages without one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if (headers.get("content-type", "").startswith("text/html")
                        and "content-security-policy" not in headers):
                    headers["Content-Security-Policy"] = HTML_CSP
            await send(message)

        await self.app(scope, receive, send_with_headers)

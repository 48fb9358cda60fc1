"""A readings upload read in chunks: CSV through pyarrow's streaming reader, JSON through an
incremental parser (ijson), each chunk a :class:`~app.services.ingest.RawBatch` whose row numbers
continue from the chunk before. Memory stays bounded by the chunk size whatever the body's size.

The body checks the edge makes on other uploads (JSON nesting depth, NUL and unpaired surrogates
in JSON strings, NUL in CSV) are made here as the body is read, answered with the same 422
problems naming row and field.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from typing import IO, Any

import ijson
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from app.params import text_problem
from app.problems import Problem, json_too_deep, malformed, missing_columns
from app.services.ingest import RawBatch, _columns_frame, _json_columns_arrow, _json_value

CSV_BLOCK_BYTES = 4 << 20
"""Bytes of CSV text per chunk (about 100,000 rows of ``meter,ts,value``)."""
JSON_CHUNK_ROWS = 100_000
"""Records per JSON chunk."""
READ_BYTES = 1 << 20
COLUMNS = ("meter", "ts", "value", "quality", "unit")
_SUSPECT_ESCAPE = re.compile(
    rb"\\u0000"
    rb"|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
"""``\\u0000`` or a lone surrogate escape (the incremental parser would turn a lone surrogate
into ``?``): the body is then read again to name the row and field."""


def upload_kind(content_type: str) -> str:
    """``json`` or ``csv`` for a content type; 415 for others."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("application/json", "application/problem+json") or kind.endswith("+json"):
        return "json"
    if kind in ("text/csv", "text/plain", "application/csv", ""):
        return "csv"
    raise Problem(415, f"Send text/csv or application/json, not {kind!r}.")


def body_chunks(source: IO[bytes], content_type: str, *, max_json_depth: int = 64,
                chunk_bytes: int = CSV_BLOCK_BYTES, chunk_rows: int = JSON_CHUNK_ROWS,
                ) -> Iterator[RawBatch]:
    """The chunks of an upload body read from the start of ``source`` (seekable): CSV in
    blocks of ``chunk_bytes``, JSON in ``chunk_rows`` records."""
    if upload_kind(content_type) == "json":
        return json_chunks(source, max_json_depth=max_json_depth, rows=chunk_rows)
    return csv_chunks(source, block_size=chunk_bytes)


def _malformed_csv(exc: Exception) -> Problem:
    return malformed("csv", str(exc))


def _header(source: IO[bytes]) -> list[str]:
    start = source.tell()
    line = source.readline(1 << 16)
    source.seek(start)
    text = line.decode("utf-8-sig", "replace")
    try:
        return next(csv.reader([text]), [])
    except csv.Error as exc:  # e.g. a bare carriage return inside the header line
        raise _malformed_csv(exc) from None


def _nul_problem(row: int | None, field: str) -> Problem:
    error = {"row": row, "field": field.replace("\x00", "\\0"),
             "message": "contains a NUL character (U+0000)"}
    return Problem(422, f"{error['field']}: {error['message']}", kind="validation",
                   errors=[error])


def csv_chunks(source: IO[bytes], block_size: int = CSV_BLOCK_BYTES) -> Iterator[RawBatch]:
    """CSV with header ``meter,ts,value[,quality][,unit]`` in chunks of ``block_size`` bytes;
    other columns are skipped. A NUL anywhere is a 422 naming its row and column."""
    header = _header(source)
    if any("\x00" in name for name in header):
        raise _nul_problem(None, "header")
    missing = [c for c in ("meter", "ts", "value") if c not in header]
    if header and missing:
        raise missing_columns(missing)
    names = [c for c in COLUMNS if c in header]
    try:
        reader = pcsv.open_csv(
            source, read_options=pcsv.ReadOptions(block_size=block_size),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                include_columns=names, strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _malformed_csv(exc) from None
    first = 1
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            raise _malformed_csv(exc) from None
        cols = {name: batch.column(name) for name in batch.schema.names}
        for name in names:
            hit = pc.match_substring(cols[name], "\x00")
            if pc.any(hit).as_py():
                raise _nul_problem(first + int(np.flatnonzero(
                    hit.to_numpy(zero_copy_only=False))[0]), name)
        yield _columns_frame(cols, first)
        first += batch.num_rows


class JsonGuard(io.RawIOBase):
    """Reads ``source`` for the incremental parser while checking each block: the nesting depth
    (carried across blocks; brackets inside strings do not count) and the escapes of NUL or an
    unpaired surrogate."""

    def __init__(self, source: IO[bytes], max_depth: int) -> None:
        self.source = source
        self.max_depth = max_depth
        self.depth = 0
        self.in_string = False
        self.backslashes = 0  # trailing run of backslashes of the block before
        self.tail = b""
        self.suspect = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        block = self.source.read(len(buffer))
        if block:
            self.check(block)
        buffer[: len(block)] = block
        return len(block)

    def check(self, block: bytes) -> None:
        if not self.suspect and b"\\u" in self.tail + block and _SUSPECT_ESCAPE.search(
                self.tail + block):
            self.suspect = True
        self.tail = block[-12:]
        v = np.frombuffer(block, np.uint8)
        quote = v == ord('"')
        if b"\\" in block or self.backslashes:
            # A quote is escaped when an odd run of backslashes stands before it.
            is_bs = v == ord("\\")
            idx = np.arange(len(v))
            last_other = np.maximum.accumulate(np.where(~is_bs, idx, -1))
            before = np.concatenate(([-1], last_other[:-1]))
            run = idx - 1 - before + np.where(before < 0, self.backslashes, 0)
            quote &= (run & 1) == 0
            tail_run = len(v) - 1 - int(last_other[-1])
            self.backslashes = tail_run + (self.backslashes if last_other[-1] < 0 else 0)
        toggles = np.cumsum(quote, dtype=np.int64) + int(self.in_string)
        outside = (toggles & 1) == 0
        step = (((v == ord("[")) | (v == ord("{"))).astype(np.int32)
                - ((v == ord("]")) | (v == ord("}"))).astype(np.int32))
        step[~outside] = 0
        depth = self.depth + np.cumsum(step, dtype=np.int64)
        if len(depth) and int(depth.max()) > self.max_depth:
            raise json_too_deep(self.max_depth, f"The JSON is nested more than "
                                f"{self.max_depth} levels deep; at most {self.max_depth} "
                                "are read.")
        if len(depth):
            self.depth = int(depth[-1])
            self.in_string = bool(toggles[-1] & 1)


def _malformed_json(message: str) -> Problem:
    return malformed("json", message)


def _not_records() -> Problem:
    return malformed("json", "not a list of objects",
                     "Send a JSON list of readings or {\"readings\": [...]}.")


def _prefix(source: IO[bytes]) -> str:
    """``item`` for a bare list, ``readings.item`` for ``{"readings": [...]}``."""
    start = source.tell()
    head = source.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf")
    source.seek(start)
    if head.startswith(b"["):
        return "item"
    if head.startswith(b"{"):
        return "readings.item"
    if not head:
        raise _malformed_json("empty body")
    raise _not_records()


def json_chunks(source: IO[bytes], *, max_json_depth: int = 64,
                rows: int = JSON_CHUNK_ROWS) -> Iterator[RawBatch]:
    """A JSON list of ``{"meter","ts","value"[,"quality"][,"unit"]}`` (or ``{"readings": …}``)
    in chunks of ``rows`` records."""
    start = source.tell()
    prefix = _prefix(source)
    guard = JsonGuard(source, max_json_depth)
    items = ijson.items(io.BufferedReader(guard, READ_BYTES), prefix, use_float=True)
    first = 1
    while True:
        try:
            records = list(itertools.islice(items, rows))
        except ijson.JSONError as exc:
            if guard.suspect:
                source.seek(start)
                raise _text_problem(source, prefix) from None
            raise _malformed_json(str(exc).splitlines()[0]) from None
        if guard.suspect:
            source.seek(start)
            raise _text_problem(source, prefix)
        if not records:
            if first == 1:
                raise missing_columns(("meter", "ts", "value"))
            return
        if not all(isinstance(r, dict) for r in records):
            raise _not_records()
        yield _records_frame(records, first)
        first += len(records)


def _records_frame(records: list[dict[str, Any]], first: int) -> RawBatch:
    fast = _json_columns_arrow(records)
    if fast is not None:
        for name, col in fast.items():
            hit = pc.match_substring(col, "\x00") if pa.types.is_string(col.type) else None
            if hit is not None and pc.any(hit).as_py():
                row = first + int(np.flatnonzero(hit.to_numpy(zero_copy_only=False))[0])
                raise _nul_problem(row, name)
        return _columns_frame(fast, first)
    # Mixed types in a column (e.g. numbers and strings): slower per-value formatting.
    names = sorted({k for r in records for k in r})
    cols: dict[str, Any] = {}
    for name in names:
        values = [r.get(name) for r in records]
        for i, v in enumerate(values):
            if isinstance(v, str) and "\x00" in v:
                raise _nul_problem(first + i, name)
        if name == "value":
            cols[name] = pa.array([_json_value(v) for v in values], type=pa.string())
        else:
            cols[name] = pa.array(["" if v is None else str(v) for v in values],
                                  type=pa.string())
    return _columns_frame(cols, first)


def _text_problem(source: IO[bytes], prefix: str) -> Problem:
    """The first string holding NUL or an unpaired surrogate, named by row and field (read with
    the pure-Python parser, which keeps lone surrogates as they are)."""
    python = ijson.get_backend("python")
    row = 0
    try:
        for row, record in enumerate(python.items(source, prefix), start=1):
            if not isinstance(record, dict):
                continue
            for key, value in record.items():
                why = text_problem(key) or (text_problem(value) if isinstance(value, str)
                                            else None)
                if why:
                    error = {"row": row, "field": key.replace("\x00", "\\0"), "message": why}
                    return Problem(422, f"{error['field']}: {why}", kind="validation",
                                   errors=[error])
    except ijson.JSONError as exc:
        return _malformed_json(str(exc).splitlines()[0])
    return _malformed_json("a string escape outside the records")

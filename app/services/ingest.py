"""Parse and validate a readings batch (CSV or JSON), vectorised, into rows ready to store.

Row numbers in errors are 1-based positions of the data rows (the CSV header is not counted).
For an interval register ``ts`` is the interval start; for a cumulative register ``ts`` is the
reading time, which closes the interval [ts - interval, ts).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from app.json_records import json_records
from app.problems import RowError, batch_rejected, malformed, missing_columns
from app.schemas.core import MAX_ABS_VALUE
from energy.meter_series import (
    QUALITY_ORDER,
    QUALITY_RANK,
    batch_duplicates,
    cumulative_to_interval,
    off_grid,
)
from energy.units import CARRIERS, UnitError, to_canonical_factor

CLIENT_QUALITIES = ("ok", "estimated")
OFFSET_RE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class MeterInfo:
    """What ingest needs to know of a meter the caller may write."""

    id: int
    code: str
    enterprise_id: int
    carrier: str
    unit: str
    canonical_unit: str
    register: str
    interval_minutes: int
    rollover_at: float | None = None
    density_kg_per_l: float | None = None
    normal_volume_factor: float | None = None
    max_per_hour: float | None = None


@dataclass
class RawBatch:
    """A parsed, not yet validated batch: ``frame`` (row, meter[, quality][, unit]) plus the
    timestamp and value columns as Arrow strings (parsed vectorised in :func:`prepare`)."""

    frame: pd.DataFrame
    ts: pa.ChunkedArray
    value: pa.ChunkedArray

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class PreparedBatch:
    """Rows to store (meter_id, start_ts, value, original_unit, quality, register_value)."""

    rows: pd.DataFrame
    received_rows: int
    gaps: list[dict[str, Any]] = field(default_factory=list)


def parse_csv(body: bytes) -> RawBatch:
    """CSV with header ``meter,ts,value[,quality][,unit]`` → string columns + ``row``."""
    try:
        table = pcsv.read_csv(
            io.BytesIO(body),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in ("meter", "ts", "value", "quality", "unit")},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise malformed("csv", str(exc)) from None
    return _columns_frame({name: table.column(name) for name in table.column_names})


def parse_json(body: bytes) -> RawBatch:
    """JSON: a list of ``{"meter","ts","value"[,"quality"][,"unit"]}`` or ``{"readings": …}``."""
    items = json_records(body, "readings")
    fast = _json_columns_arrow(items)
    if fast is not None:
        return _columns_frame(fast)
    # Mixed types in a column (e.g. numbers and strings): slower per-value formatting.
    frame = pd.DataFrame.from_records(items)
    cols: dict[str, Any] = {}
    for name in frame.columns:
        col = frame[name]
        cols[name] = pa.array(
            ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in col],
            type=pa.string(),
        ) if name != "value" else pa.array([_json_value(v) for v in col], type=pa.string())
    return _columns_frame(cols)


def _json_columns_arrow(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Columns as Arrow strings via ``pa.Table.from_pylist`` (C++), or None if types are mixed."""
    try:
        table = pa.Table.from_pylist(items)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    cols: dict[str, Any] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_boolean(col.type) or pa.types.is_nested(col.type):
            return None
        if not pa.types.is_string(col.type):
            col = pc.cast(col, pa.string())
        cols[name] = col.fill_null("")
    return cols


def _json_value(v: object) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else "not-a-number"
    return str(v)


def _categorical(arr: pa.ChunkedArray | pa.Array) -> pd.Series:
    """Trimmed strings as a pandas Categorical (few distinct values: meter codes, units, flags)."""
    chunked = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(chunked)).combine_chunks()
    return pd.Series(pd.Categorical.from_codes(
        encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype("int64"),
        categories=pd.Index(encoded.dictionary.to_pylist(), dtype=object)))


def _columns_frame(cols: dict[str, Any], first_row: int = 1) -> RawBatch:
    missing = [c for c in ("meter", "ts", "value") if c not in cols]
    if missing:
        raise missing_columns(missing)
    n = len(cols["meter"])
    out = pd.DataFrame({"row": np.arange(first_row, first_row + n, dtype="int64"),
                        "meter": _categorical(cols["meter"])})
    for opt in ("quality", "unit"):
        if opt in cols:
            out[opt] = _categorical(cols[opt])
    return RawBatch(frame=out, ts=_chunked(cols["ts"]), value=_chunked(cols["value"]))


def _chunked(arr: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _error(rows: pd.Series | np.ndarray, field_name: str, message: str | pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"row": np.asarray(rows), "field": field_name, "message": message})


def _parse_ts(raw: pa.ChunkedArray) -> tuple[pd.Series, pd.DataFrame | None]:
    try:
        ts = pc.cast(raw, pa.timestamp("us", tz="UTC"))
        return pd.Series(ts.to_pandas(), name="ts"), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    strings = pd.Series(raw.to_pandas(), dtype=object).str.strip()
    has_offset = strings.str.contains(OFFSET_RE, regex=True, na=False)
    parsed = pd.to_datetime(strings.where(has_offset), format="ISO8601", utc=True, errors="coerce")
    naive = ~has_offset & pd.to_datetime(
        strings.where(~has_offset), format="ISO8601", errors="coerce").notna()
    bad = parsed.isna()
    messages = np.where(naive[bad], "timestamp has no UTC offset (naive); add e.g. +08:00",
                        "not an ISO 8601 timestamp with offset")
    errors = _error(np.flatnonzero(bad.to_numpy()) + 1, "ts", messages)
    return parsed.dt.as_unit("us"), errors


def _parse_values(raw: pa.ChunkedArray) -> tuple[np.ndarray, pd.DataFrame | None]:
    try:
        values = pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = pd.to_numeric(pd.Series(raw.to_pandas(), dtype=object), errors="coerce").to_numpy(
            dtype="float64")
        bad = ~np.isfinite(values)
    if not bad.any():
        return values, None
    return values, _error(np.flatnonzero(bad) + 1, "value", "not a finite number")


@dataclass
class CheckedChunk:
    """One chunk of a batch, validated on its own (see :func:`check_chunk`).

    ``rows``: interval-register rows ready to store (columns of :data:`ROW_COLUMNS`);
    ``cumulative``: cumulative-register readings (row, meter, meter_id, ts, value, original_unit,
    quality), kept until the whole batch is read because each interval needs the reading before
    it, which may sit in another chunk; ``errors``: frames (row, field, message);
    ``month_firsts``: the earliest accepted row of each UTC calendar month in the chunk (month,
    ts, row), for the batch-wide month limit."""

    rows: pd.DataFrame
    cumulative: pd.DataFrame
    errors: list[pd.DataFrame]
    month_firsts: pd.DataFrame
    received_rows: int


ROW_COLUMNS = ("row", "meter", "meter_id", "start_ts", "value", "original_unit", "quality",
               "register_value", "covered_minutes")
"""Columns of rows ready to store (interval starts in UTC, values in canonical units)."""


def check_chunk(
    batch: RawBatch,
    meters: dict[str, MeterInfo],
    *,
    ceilings_per_hour: dict[str, float],
    max_abs_value: float = MAX_ABS_VALUE,
    not_before: pd.Timestamp | None = None,
    not_after: pd.Timestamp | None = None,
) -> CheckedChunk:
    """Every per-row check of one chunk, in order: timestamps and values parse, accepted window,
    known meter, quality, unit conversion and magnitude, grid, sign, repeated keys in the chunk;
    then the chunk's interval rows are flagged (implausible) and its cumulative readings set
    aside. ``meters`` holds only meters the caller may write (others read as unknown)."""
    frame, errors = parse_columns(batch)
    window, inside = window_errors(frame, not_before, not_after)
    errors += window
    errors += match_meters(frame, meters)
    errors += read_quality(batch.frame, frame)
    errors += convert_units(frame, batch.frame, meters, max_abs_value)
    errors += grid_errors(frame)
    errors += negative_errors(frame, meters)
    firsts = month_firsts(frame, inside)
    repeated, has_repeats = repeated_key_errors(frame)
    errors += repeated
    if has_repeats:
        frame = frame[~(frame.duplicated(["meter_id", "ts"], keep="first")
                        & frame["ts"].notna() & frame["known"])]
    rows = flag_implausible(interval_rows(frame), meters, ceilings_per_hour)
    cumulative = frame.loc[frame["register"] == "cumulative",
                           ["row", "meter", "meter_id", "ts", "value", "original_unit", "quality"]]
    return CheckedChunk(rows=rows, cumulative=cumulative, errors=errors,
                        month_firsts=firsts, received_rows=len(batch))


def parse_columns(batch: RawBatch) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Frame (row, meter, ts UTC, value, raw_value) with the timestamp and value errors."""
    ts, ts_err = _parse_ts(batch.ts)
    values, val_err = _parse_values(batch.value)
    rows = batch.frame["row"].to_numpy()
    frame = pd.DataFrame({"row": rows, "meter": batch.frame["meter"],
                          "ts": ts, "value": values, "raw_value": values})
    errors = [e.assign(row=rows[e["row"].to_numpy() - 1]) for e in (ts_err, val_err)
              if e is not None]
    return frame, errors


def match_meters(frame: pd.DataFrame, meters: dict[str, MeterInfo]) -> list[pd.DataFrame]:
    """Adds known, meter_id, interval_minutes and register per row (looked up once per code);
    an error for every row naming a meter the caller may not write."""
    cats = list(frame["meter"].cat.categories)
    codes = frame["meter"].cat.codes.to_numpy()

    def per_meter(attr: str, default: object) -> np.ndarray:
        table = np.array([getattr(meters[c], attr) if c in meters else default for c in cats]
                         + [default], dtype=object if isinstance(default, str) else "float64")
        return table[codes]  # code -1 (missing) picks the default at the end

    frame["meter_id"] = per_meter("id", -1.0)
    frame["known"] = frame["meter_id"].to_numpy() >= 0
    frame["interval_minutes"] = per_meter("interval_minutes", np.nan)
    frame["register"] = per_meter("register", "")
    unknown = ~frame["known"]
    if not unknown.any():
        return []
    return [_error(frame.loc[unknown, "row"], "meter",
                   "unknown meter (or not one of yours): "
                   + frame.loc[unknown, "meter"].astype(object).fillna("").astype(str))]


def read_quality(raw: pd.DataFrame, frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Adds quality (ok when absent or empty); an error where a client sends another flag."""
    n = len(frame)
    if "quality" not in raw:
        frame["quality"] = pd.Categorical.from_codes(np.zeros(n, dtype="int64"), QUALITY_ORDER)
        return []
    qcat = raw["quality"].cat.rename_categories(
        [str(c).lower() for c in raw["quality"].cat.categories])
    qobj = pd.Series(qcat.astype(object).fillna("").replace("", "ok").to_numpy(),
                     index=frame.index)
    badq = ~qobj.isin(CLIENT_QUALITIES)
    frame["quality"] = pd.Categorical(qobj.where(~badq, "ok"), categories=QUALITY_ORDER)
    if not badq.any():
        return []
    return [_error(frame.loc[badq, "row"], "quality",
                   "quality must be one of: " + ", ".join(CLIENT_QUALITIES))]


def convert_units(frame: pd.DataFrame, raw: pd.DataFrame, meters: dict[str, MeterInfo],
                  max_abs_value: float) -> list[pd.DataFrame]:
    """Values to the meter's canonical unit (one factor per distinct (meter, unit) pair) and
    original_unit per row; errors for unknown units and for values beyond ±max_abs_value after
    conversion (1e308 MWh is finite, its kWh is not; the bound keeps every sum finite)."""
    errors: list[pd.DataFrame] = []
    n = len(frame)
    cats = list(frame["meter"].cat.categories)
    codes = frame["meter"].cat.codes.to_numpy()
    if "unit" in raw:
        ucats = [str(u) for u in raw["unit"].cat.categories]
        ucodes = raw["unit"].cat.codes.to_numpy()
    else:
        ucats, ucodes = [], np.full(n, -1, dtype="int64")
    pair = codes.astype("int64") * (len(ucats) + 1) + ucodes + 1
    uniq, inverse = np.unique(pair, return_inverse=True)
    pair_factor = np.ones(len(uniq))
    pair_unit = np.empty(len(uniq), dtype=object)
    for k, pkey in enumerate(uniq):
        mcode, ucode = divmod(int(pkey), len(ucats) + 1)
        meter_code = cats[mcode] if 0 <= mcode < len(cats) else None
        m = meters.get(meter_code) if meter_code is not None else None
        unit = ucats[ucode - 1] if ucode > 0 and ucats[ucode - 1] != "" else (m.unit if m else "")
        pair_unit[k] = unit
        if m is None:
            continue
        try:
            pair_factor[k] = to_canonical_factor(
                unit, m.carrier, density_kg_per_l=m.density_kg_per_l,
                normal_volume_factor=m.normal_volume_factor)
        except UnitError as exc:
            errors.append(_error(frame["row"].to_numpy()[inverse == k], "unit", str(exc)))
    unit_names, unit_of_pair = np.unique(pair_unit.astype(str), return_inverse=True)
    frame["original_unit"] = pd.Categorical.from_codes(unit_of_pair[inverse],
                                                       pd.Index(unit_names, dtype=object))
    with np.errstate(over="ignore", invalid="ignore"):
        frame["value"] = frame["value"].to_numpy() * pair_factor[inverse]
    beyond = _beyond(frame["value"], max_abs_value) & np.isfinite(frame["raw_value"].to_numpy())
    if beyond.any():
        errors.append(_error(frame.loc[beyond, "row"], "value", _beyond_message(max_abs_value)))
    return errors


def grid_errors(frame: pd.DataFrame) -> list[pd.DataFrame]:
    """Rows whose ts is off the meter's interval grid (anchored at Asia/Shanghai midnight)."""
    errors = []
    ok_ts = frame["ts"].notna() & frame["known"]
    for minutes in frame.loc[ok_ts, "interval_minutes"].dropna().unique():
        sel = ok_ts & (frame["interval_minutes"] == minutes)
        off = off_grid(frame.loc[sel, "ts"], int(minutes))
        if off.any():
            errors.append(_error(frame.loc[sel, "row"].to_numpy()[off], "ts",
                                 f"not on the meter's {int(minutes)}-minute grid "
                                 "(anchored at Asia/Shanghai midnight)"))
    return errors


def negative_errors(frame: pd.DataFrame, meters: dict[str, MeterInfo]) -> list[pd.DataFrame]:
    """Negative values of meters whose carrier cannot be negative (decided per meter, not per
    row: temperatures and signed battery power may be negative)."""
    cats = list(frame["meter"].cat.categories)
    may_be_negative = np.array(
        [c in meters and CARRIERS[meters[c].carrier].allows_negative for c in cats] + [False],
        dtype=bool)[frame["meter"].cat.codes.to_numpy()]
    negative = frame["known"] & (frame["value"] < 0) & ~may_be_negative
    if not negative.any():
        return []
    return [_error(frame.loc[negative, "row"], "value",
                   np.where(frame.loc[negative, "register"] == "cumulative",
                            "negative register reading",
                            "negative interval consumption is impossible"))]


def repeated_key_errors(frame: pd.DataFrame) -> tuple[list[pd.DataFrame], bool]:
    """Rows repeating a (meter, ts) of the same chunk with a different value (errors), and
    whether any key repeats at all (repeats with the same value collapse to the first)."""
    valid_keys = (frame["ts"].notna() & frame["known"]).to_numpy()
    # One int64 key per (meter, second): a hash on it finds duplicates far faster than on columns.
    key = _row_keys(frame["meter_id"].to_numpy(), frame["ts"])
    dup_any = pd.Series(key).duplicated(keep=False).to_numpy() & valid_keys
    if not dup_any.any():
        return [], False
    keyed = frame.loc[valid_keys, ["meter_id", "ts", "value", "row"]]
    conflicts, _ = batch_duplicates(keyed, keys=("meter_id", "ts"))
    if not len(conflicts):
        return [], True
    first_row = conflicts.groupby(["meter_id", "ts"])["row"].transform("min")
    return [_error(conflicts["row"], "value", "same meter and ts as row " + first_row.astype(str)
                   + " with a different value")], True


def interval_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The interval-register rows of a checked frame, as rows to store (unflagged)."""
    interval = (frame["register"] == "interval").to_numpy()
    part = frame if interval.all() else frame[interval]
    return pd.DataFrame({
        "row": part["row"].to_numpy(), "meter": part["meter"].array,
        "meter_id": part["meter_id"].to_numpy(dtype="float64").astype("int32"),
        "start_ts": part["ts"].array, "value": part["value"].to_numpy(),
        "original_unit": part["original_unit"].array, "quality": part["quality"].array,
        "register_value": np.full(len(part), np.nan),
        "covered_minutes": part["interval_minutes"].to_numpy(dtype="float64")})


def flag_implausible(rows: pd.DataFrame, meters: dict[str, MeterInfo],
                     ceilings_per_hour: dict[str, float]) -> pd.DataFrame:
    """Quality ``implausible`` above the ceiling (per meter, else per carrier), scaled to the
    minutes a row covers; a worse flag the row already has is kept."""
    if not len(rows):
        rows["quality"] = pd.Categorical(rows["quality"], categories=QUALITY_ORDER)
        return rows
    by_id = {m.id: m for m in meters.values()}
    table_ids = np.array(sorted(by_id), dtype="int64")
    per_hour_of = np.array([
        np.nan if (c := by_id[int(i)].max_per_hour if by_id[int(i)].max_per_hour is not None
                   else ceilings_per_hour.get(by_id[int(i)].carrier)) is None else c
        for i in table_ids], dtype="float64")
    minutes_of = np.array([by_id[int(i)].interval_minutes for i in table_ids], dtype="float64")
    pos = np.searchsorted(table_ids, rows["meter_id"].to_numpy().astype("int64"))
    ceiling = per_hour_of[pos] * minutes_of[pos] / 60.0
    covered = rows["covered_minutes"].to_numpy(dtype="float64") / minutes_of[pos]
    values = rows["value"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        implausible = values > ceiling * covered  # NaN ceiling: no check
    quality = pd.Categorical(rows["quality"], categories=QUALITY_ORDER)
    if implausible.any():
        worst = np.maximum(quality.codes, np.where(implausible, QUALITY_RANK["implausible"], 0))
        quality = pd.Categorical.from_codes(worst, QUALITY_ORDER)
    rows["quality"] = quality
    return rows


def convert_cumulative(
    cum: pd.DataFrame, meters: dict[str, MeterInfo], previous: pd.DataFrame, *,
    ceilings_per_hour: dict[str, float], max_abs_value: float = MAX_ABS_VALUE,
) -> pd.DataFrame:
    """Cumulative register readings of a whole batch → interval rows to store (flagged).

    ``previous``: the stored register reading before each meter's first batch reading
    (meter_id, ts, value). A rollover interval beyond ±max_abs_value is a 422."""
    if not len(cum):
        return pd.DataFrame(columns=list(ROW_COLUMNS))
    code_of = {m.id: m.code for m in meters.values()}
    prev_frame = None
    if len(previous):
        prev_frame = pd.DataFrame({"meter": previous["meter_id"].map(code_of),
                                   "ts": previous["ts"], "value": previous["value"]})
    conv = cumulative_to_interval(
        cum[["meter", "ts", "value", "row", "quality"]].astype(
            {"meter": object, "quality": object}),
        interval_minutes={m.code: m.interval_minutes for m in meters.values()},
        rollover_at={m.code: m.rollover_at for m in meters.values()},
        previous=prev_frame,
    )
    conv["meter_id"] = conv["meter"].map({m.code: m.id for m in meters.values()}).astype("int32")
    conv["original_unit"] = conv["row"].map(cum.set_index("row")["original_unit"])
    rows = conv.rename(columns={"start": "start_ts"})[list(ROW_COLUMNS)]
    beyond = _beyond(rows["value"], max_abs_value)
    if beyond.any():  # an interval from registers (rollover): cannot pass, checked for safety
        raise_rejected([_error(rows.loc[beyond, "row"], "value",
                               _beyond_message(max_abs_value))])
    return flag_implausible(rows.reset_index(drop=True), meters, ceilings_per_hour)


def raise_rejected(errors: list[pd.DataFrame]) -> None:
    """422 listing every (row, field) of ``errors`` in row order; nothing is stored."""
    if not errors:
        return
    err = pd.concat(errors, ignore_index=True).drop_duplicates()
    err = err.sort_values(["row", "field"], kind="stable", na_position="first")
    raise batch_rejected([
        RowError(row=None if pd.isna(r) else int(r), field=f, message=str(msg))
        for r, f, msg in err.itertuples(index=False)
    ])


def prepare(
    batch: RawBatch,
    meters: dict[str, MeterInfo],
    *,
    ceilings_per_hour: dict[str, float],
    previous_registers: Callable[[list[int], pd.Series], pd.DataFrame],
    max_abs_value: float = MAX_ABS_VALUE,
    not_before: pd.Timestamp | None = None,
    not_after: pd.Timestamp | None = None,
    max_months: int | None = None,
) -> PreparedBatch:
    """A whole batch held in memory, validated as one chunk: raise :class:`Problem` 422 listing
    every bad row and field, else the rows to store.

    ``previous_registers(meter_ids, first_ts_by_meter)`` returns the stored register reading
    before each cumulative meter's first reading (columns meter_id, ts, value).
    ``not_before`` / ``not_after``: the accepted window of ``ts`` (inclusive);
    ``max_months``: the most distinct UTC calendar months one batch may touch."""
    chunk = check_chunk(batch, meters, ceilings_per_hour=ceilings_per_hour,
                        max_abs_value=max_abs_value, not_before=not_before, not_after=not_after)
    raise_rejected(chunk.errors + month_span_errors(chunk.month_firsts, max_months))
    parts = [chunk.rows] if len(chunk.rows) else []
    cum = chunk.cumulative
    if len(cum):
        first = cum.groupby("meter_id")["ts"].min()
        first.index = first.index.astype("int64")
        previous = previous_registers([int(i) for i in first.index], first)
        parts.append(convert_cumulative(cum, meters, previous,
                                        ceilings_per_hour=ceilings_per_hour,
                                        max_abs_value=max_abs_value))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=list(ROW_COLUMNS))
    rows["meter_id"] = rows["meter_id"].astype("int32")
    return PreparedBatch(rows=rows, received_rows=chunk.received_rows, gaps=_gaps(rows, meters))


def _beyond(values: pd.Series, max_abs_value: float) -> np.ndarray:
    """True where a value is NaN, infinite or beyond ±max_abs_value."""
    return ~(np.abs(values.to_numpy(dtype="float64")) <= max_abs_value)


def _beyond_message(max_abs_value: float) -> str:
    return (f"not a finite number within ±{max_abs_value:g} in the meter's canonical unit "
            "(after unit conversion)")


def window_errors(frame: pd.DataFrame, not_before: pd.Timestamp | None,
                  not_after: pd.Timestamp | None) -> tuple[list[pd.DataFrame], np.ndarray]:
    """Rows outside [not_before, not_after], and the mask of rows with a ts inside it."""
    ts = frame["ts"]
    inside = ts.notna().to_numpy().copy()
    out = []
    if not_before is not None:
        early = inside & (ts < not_before).to_numpy()
        if early.any():
            out.append(_error(frame["row"].to_numpy()[early], "ts",
                              f"before {not_before.isoformat()}, the earliest accepted reading "
                              f"time / 早于可接受的最早读数时间 {not_before.isoformat()}"))
            inside = inside & ~early
    if not_after is not None:
        late = inside & (ts > not_after).to_numpy()
        if late.any():
            out.append(_error(frame["row"].to_numpy()[late], "ts",
                              f"future reading: after {not_after.isoformat()} (now plus the "
                              f"accepted clock tolerance) / 未来时间的读数：晚于 "
                              f"{not_after.isoformat()}（当前时间加允许的时钟偏差）"))
            inside = inside & ~late
    return out, inside


def month_firsts(frame: pd.DataFrame, inside: np.ndarray) -> pd.DataFrame:
    """The earliest row (month, ts as UTC microseconds, row) of each UTC calendar month among
    the rows ``inside`` the window; months are ``year * 12 + month - 1``."""
    if not inside.any():
        return pd.DataFrame({"month": np.zeros(0, "int64"), "ts": np.zeros(0, "int64"),
                             "row": np.zeros(0, "int64")})
    utc = frame["ts"][inside].dt.tz_convert("UTC")
    part = pd.DataFrame({"month": (utc.dt.year * 12 + utc.dt.month - 1).to_numpy(),
                         "ts": utc.dt.as_unit("us").array.asi8,
                         "row": frame["row"].to_numpy()[inside]})
    return merge_month_firsts([part])


def merge_month_firsts(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One earliest row per month across ``parts`` (chunks)."""
    both = pd.concat(parts, ignore_index=True).sort_values(["month", "ts", "row"], kind="stable")
    return both.drop_duplicates("month", keep="first").reset_index(drop=True)


def month_span_errors(firsts: pd.DataFrame, max_months: int | None) -> list[pd.DataFrame]:
    """A batch touching more than ``max_months`` UTC calendar months: an error naming the first
    row of the first month beyond the limit (months in time order)."""
    if max_months is None or len(firsts) <= max_months:
        return []
    firsts = firsts.sort_values("month")
    distinct = firsts["month"].to_numpy()
    beyond = firsts.iloc[max_months]
    span = (f"{distinct[0] // 12}-{distinct[0] % 12 + 1:02d} .. "
            f"{distinct[-1] // 12}-{distinct[-1] % 12 + 1:02d}")
    return [_error(np.array([int(beyond["row"])]), "ts",
                   f"the batch touches {len(distinct)} calendar months ({span}); at "
                   f"most {max_months} per batch: split it / 本批次涉及 "
                   f"{len(distinct)} 个自然月（{span}），每批最多 {max_months} 个月，"
                   "请拆分上传")]


def _row_keys(meter_ids: np.ndarray, ts: pd.Series) -> np.ndarray:
    """int64 (meter id << 32 | seconds since 1970) per row; invalid rows get distinct negatives."""
    secs = ts.dt.as_unit("s").array.asi8 if len(ts) else np.zeros(0, dtype="int64")
    ids = np.nan_to_num(np.asarray(meter_ids, dtype="float64"), nan=-1).astype("int64")
    key = (ids << 32) | (secs & 0xFFFFFFFF)
    bad = (ids < 0) | ts.isna().to_numpy()
    key[bad] = -1 - np.flatnonzero(bad)
    return key


def _gaps(rows: pd.DataFrame, meters: dict[str, MeterInfo]) -> list[dict[str, Any]]:
    """Holes inside the batch (per meter) as a short list for the answer (max 100)."""
    if not len(rows):
        return []
    ids = rows["meter_id"].to_numpy().astype("int64")
    secs = rows["start_ts"].dt.as_unit("s").array.asi8
    return gaps_from_keys((ids << 32) | secs, meters)


def row_keys_of(rows: pd.DataFrame) -> np.ndarray:
    """int64 (meter id << 32 | start in seconds since 1970) of rows ready to store."""
    ids = rows["meter_id"].to_numpy().astype("int64")
    return (ids << 32) | rows["start_ts"].dt.as_unit("s").array.asi8


def gaps_from_keys(keys: np.ndarray, meters: dict[str, MeterInfo],
                   limit: int = 100) -> list[dict[str, Any]]:
    """Holes per meter among interval starts given as keys (see :func:`row_keys_of`), as a
    short list for the answer (at most ``limit``)."""
    if not len(keys):
        return []
    if not (np.diff(keys) > 0).all():
        keys = np.unique(keys)
    ids, secs = keys >> 32, keys & 0xFFFFFFFF
    by_id = {m.id: m for m in meters.values()}
    table_ids = np.array(sorted(by_id), dtype="int64")
    table_step = np.array([by_id[int(i)].interval_minutes * 60 for i in table_ids])
    step_s = table_step[np.clip(np.searchsorted(table_ids, ids), 0, len(table_ids) - 1)]
    same = ids[1:] == ids[:-1]
    holes = np.flatnonzero(same & (np.diff(secs) > step_s[1:])) + 1
    out = []
    for i in holes[:limit]:
        m = by_id[int(ids[i])]
        before = pd.Timestamp(int(secs[i]), unit="s", tz="UTC")
        after = pd.Timestamp(int(secs[i - 1]), unit="s", tz="UTC")
        out.append({"meter": m.code,
                    "missing_intervals": int((secs[i] - secs[i - 1]) // (m.interval_minutes * 60))
                    - 1, "after": after.isoformat(), "before": before.isoformat()})
    return out

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
    implausible_mask,
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


def _columns_frame(cols: dict[str, Any]) -> RawBatch:
    missing = [c for c in ("meter", "ts", "value") if c not in cols]
    if missing:
        raise missing_columns(missing)
    n = len(cols["meter"])
    out = pd.DataFrame({"row": np.arange(1, n + 1, dtype="int64"),
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


def prepare(
    batch: RawBatch,
    meters: dict[str, MeterInfo],
    *,
    ceilings_per_hour: dict[str, float],
    previous_registers: Callable[[list[int], pd.Series], pd.DataFrame],
    last_starts: Callable[[list[int]], pd.DataFrame] | None = None,
    max_abs_value: float = MAX_ABS_VALUE,
    not_before: pd.Timestamp | None = None,
    not_after: pd.Timestamp | None = None,
    max_months: int | None = None,
) -> PreparedBatch:
    """Validate a parsed batch; raise :class:`Problem` 422 listing every bad row and field.

    ``meters`` holds only meters the caller may write (others read as unknown).
    ``previous_registers(meter_ids, first_ts_by_meter)`` returns the stored register reading
    before each cumulative meter's first reading (columns meter_id, ts, value).
    ``max_abs_value``: largest magnitude of a value in the meter's canonical unit.
    ``not_before`` / ``not_after``: the accepted window of ``ts`` (inclusive);
    ``max_months``: the most distinct UTC calendar months one batch may touch.
    """
    raw = batch.frame
    n = len(raw)
    errors: list[pd.DataFrame] = []
    ts, ts_err = _parse_ts(batch.ts)
    values, val_err = _parse_values(batch.value)
    errors += [e for e in (ts_err, val_err) if e is not None]
    frame = pd.DataFrame({"row": raw["row"], "meter": raw["meter"], "ts": ts, "value": values})
    errors += _window_errors(frame, not_before, not_after, max_months)

    cats = list(frame["meter"].cat.categories)
    codes = frame["meter"].cat.codes.to_numpy()

    def per_meter(attr: str, default: object) -> np.ndarray:
        table = np.array([getattr(meters[c], attr) if c in meters else default for c in cats]
                         + [default], dtype=object if isinstance(default, str) else "float64")
        return table[codes]  # code -1 (missing) picks the default at the end

    known = pd.Series(per_meter("id", -1.0) >= 0, index=frame.index)
    if not known.all():
        errors.append(_error(frame.loc[~known, "row"], "meter",
                             "unknown meter (or not one of yours): "
                             + frame.loc[~known, "meter"].astype(object).fillna("").astype(str)))
    frame["meter_id"] = per_meter("id", -1.0)
    frame["interval_minutes"] = per_meter("interval_minutes", np.nan)
    frame["register"] = per_meter("register", "")
    info = pd.DataFrame([m.__dict__ for m in meters.values()])
    if info.empty:
        info = pd.DataFrame(columns=list(MeterInfo.__dataclass_fields__))
    info = info.set_index("code")

    if "quality" in raw:
        qcat = raw["quality"].cat.rename_categories(
            [str(c).lower() for c in raw["quality"].cat.categories])
        qobj = qcat.astype(object).fillna("").replace("", "ok")
        badq = ~qobj.isin(CLIENT_QUALITIES)
        if badq.any():
            errors.append(_error(frame.loc[badq, "row"], "quality",
                                 "quality must be one of: " + ", ".join(CLIENT_QUALITIES)))
        frame["quality"] = pd.Categorical(qobj.where(~badq, "ok"), categories=QUALITY_ORDER)
    else:
        frame["quality"] = pd.Categorical.from_codes(np.zeros(n, dtype="int64"), QUALITY_ORDER)

    # Units → canonical: one factor per distinct (meter, unit) pair, looked up by codes.
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
    with np.errstate(over="ignore"):
        frame["value"] = frame["value"].to_numpy() * pair_factor[inverse]
    # After conversion: 1e308 MWh is finite, its kWh is not; the bound keeps every sum finite.
    beyond = _beyond(frame["value"], max_abs_value) & np.isfinite(values)
    if beyond.any():
        errors.append(_error(frame.loc[beyond, "row"], "value", _beyond_message(max_abs_value)))

    ok_ts = frame["ts"].notna() & known
    for minutes in frame.loc[ok_ts, "interval_minutes"].dropna().unique():
        sel = ok_ts & (frame["interval_minutes"] == minutes)
        off = off_grid(frame.loc[sel, "ts"], int(minutes))
        if off.any():
            errors.append(_error(frame.loc[sel, "row"].to_numpy()[off], "ts",
                                 f"not on the meter's {int(minutes)}-minute grid "
                                 "(anchored at Asia/Shanghai midnight)"))

    # Per meter (not per row): temperatures and signed battery power may be negative.
    may_be_negative = np.array(
        [c in meters and CARRIERS[meters[c].carrier].allows_negative for c in cats] + [False],
        dtype=bool)[codes]
    negative = known & (frame["value"] < 0) & ~may_be_negative
    if negative.any():
        errors.append(_error(frame.loc[negative, "row"], "value",
                             np.where(frame.loc[negative, "register"] == "cumulative",
                                      "negative register reading",
                                      "negative interval consumption is impossible")))

    valid_keys = (frame["ts"].notna() & known).to_numpy()
    # One int64 key per (meter, second): a hash on it finds duplicates far faster than on columns.
    key = _row_keys(frame["meter_id"].to_numpy(), frame["ts"])
    dup_any = pd.Series(key).duplicated(keep=False).to_numpy() & valid_keys
    if dup_any.any():
        keyed = frame.loc[valid_keys, ["meter_id", "ts", "value", "row"]]
        conflicts, _ = batch_duplicates(keyed, keys=("meter_id", "ts"))
        if len(conflicts):
            first_row = conflicts.groupby(["meter_id", "ts"])["row"].transform("min")
            errors.append(_error(conflicts["row"], "value",
                                 "same meter and ts as row " + first_row.astype(str)
                                 + " with a different value"))

    if errors:
        err = pd.concat(errors, ignore_index=True).sort_values(["row", "field"], kind="stable")
        raise batch_rejected([
            RowError(row=None if pd.isna(r) else int(r), field=f, message=str(msg))
            for r, f, msg in err.itertuples(index=False)
        ])

    if dup_any.any():
        frame = frame[~frame.duplicated(["meter_id", "ts"], keep="first")]
    out_parts: list[pd.DataFrame] = []
    interval_rows = frame[frame["register"] == "interval"]
    if len(interval_rows):
        part = interval_rows.rename(columns={"ts": "start_ts"})[
            ["row", "meter", "meter_id", "start_ts", "value", "original_unit", "quality"]].copy()
        part["register_value"] = np.nan
        part["covered_minutes"] = interval_rows["interval_minutes"].to_numpy(dtype="float64")
        out_parts.append(part)
    cum = frame[frame["register"] == "cumulative"]
    if len(cum):
        ids = [int(i) for i in cum["meter_id"].unique()]
        first = cum.groupby("meter_id")["ts"].min()
        prev = previous_registers(ids, first)
        code_of = {m.id: m.code for m in meters.values()}
        prev_frame = None
        if len(prev):
            prev_frame = pd.DataFrame({"meter": prev["meter_id"].map(code_of), "ts": prev["ts"],
                                       "value": prev["value"]})
        conv = cumulative_to_interval(
            cum[["meter", "ts", "value", "row", "quality"]].astype(
                {"meter": object, "quality": object}),
            interval_minutes={m.code: m.interval_minutes for m in meters.values()},
            rollover_at={m.code: m.rollover_at for m in meters.values()},
            previous=prev_frame,
        )
        conv["meter_id"] = conv["meter"].map(info["id"])
        conv["original_unit"] = conv["row"].map(cum.set_index("row")["original_unit"])
        conv = conv.rename(columns={"start": "start_ts"})
        out_parts.append(conv[["row", "meter", "meter_id", "start_ts", "value", "original_unit",
                               "quality", "register_value", "covered_minutes"]])
    rows = pd.concat(out_parts, ignore_index=True) if out_parts else pd.DataFrame(
        columns=["row", "meter", "meter_id", "start_ts", "value", "original_unit", "quality",
                 "register_value", "covered_minutes"])
    beyond = _beyond(rows["value"], max_abs_value)
    if beyond.any():  # an interval from registers (rollover): cannot pass, checked for safety
        raise batch_rejected([RowError(row=int(r), field="value",
                                       message=_beyond_message(max_abs_value))
                              for r in rows.loc[beyond, "row"]])

    # Flags: implausible above the ceiling (per meter or per carrier), scaled to what a row covers.
    if len(rows):
        per_hour = rows["meter"].map(
            {m.code: m.max_per_hour if m.max_per_hour is not None
             else ceilings_per_hour.get(m.carrier) for m in meters.values()}).astype("float64")
        minutes = rows["meter"].map(
            {m.code: m.interval_minutes for m in meters.values()}).astype("float64")
        ceiling = per_hour * minutes / 60.0
        implausible = implausible_mask(rows["value"], ceiling, rows["covered_minutes"] / minutes)
        quality = pd.Categorical(rows["quality"], categories=QUALITY_ORDER)
        if implausible.any():
            worst = np.maximum(quality.codes, np.where(implausible, QUALITY_RANK["implausible"], 0))
            quality = pd.Categorical.from_codes(worst, QUALITY_ORDER)
        rows["quality"] = quality
    rows["meter_id"] = rows["meter_id"].astype("int32")
    gaps = _gaps(rows, meters)
    return PreparedBatch(rows=rows, received_rows=n, gaps=gaps)


def _beyond(values: pd.Series, max_abs_value: float) -> np.ndarray:
    """True where a value is NaN, infinite or beyond ±max_abs_value."""
    return ~(np.abs(values.to_numpy(dtype="float64")) <= max_abs_value)


def _beyond_message(max_abs_value: float) -> str:
    return (f"not a finite number within ±{max_abs_value:g} in the meter's canonical unit "
            "(after unit conversion)")
def _window_errors(frame: pd.DataFrame, not_before: pd.Timestamp | None,
                   not_after: pd.Timestamp | None, max_months: int | None) -> list[pd.DataFrame]:
    """Rows outside [not_before, not_after], and a batch spanning more than ``max_months``."""
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
    if max_months is not None and inside.any():
        utc = ts[inside].dt.tz_convert("UTC")
        month = (utc.dt.year * 12 + utc.dt.month - 1).to_numpy()
        distinct = np.unique(month)
        if len(distinct) > max_months:
            # Name the first row of the first month beyond the limit (months in time order).
            beyond = np.flatnonzero(month == distinct[max_months])
            first = beyond[np.argmin(utc.to_numpy()[beyond])]
            span = (f"{distinct[0] // 12}-{distinct[0] % 12 + 1:02d} .. "
                    f"{distinct[-1] // 12}-{distinct[-1] % 12 + 1:02d}")
            out.append(_error(frame["row"].to_numpy()[inside][[first]], "ts",
                              f"the batch touches {len(distinct)} calendar months ({span}); at "
                              f"most {max_months} per batch: split it / 本批次涉及 "
                              f"{len(distinct)} 个自然月（{span}），每批最多 {max_months} 个月，"
                              "请拆分上传"))
    return out


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
    order = None
    key = (ids << 32) | secs
    if not (np.diff(key) > 0).all():
        order = np.lexsort((secs, ids))
        ids, secs = ids[order], secs[order]
    by_id = {m.id: m for m in meters.values()}
    table_ids = np.array(sorted(by_id), dtype="int64")
    table_step = np.array([by_id[int(i)].interval_minutes * 60 for i in table_ids])
    step_s = table_step[np.searchsorted(table_ids, ids)]
    same = ids[1:] == ids[:-1]
    holes = np.flatnonzero(same & (np.diff(secs) > step_s[1:])) + 1
    out = []
    for i in holes[:100]:
        m = by_id[int(ids[i])]
        before = pd.Timestamp(int(secs[i]), unit="s", tz="UTC")
        after = pd.Timestamp(int(secs[i - 1]), unit="s", tz="UTC")
        out.append({"meter": m.code,
                    "missing_intervals": int((secs[i] - secs[i - 1]) // (m.interval_minutes * 60))
                    - 1, "after": after.isoformat(), "before": before.isoformat()})
    return out

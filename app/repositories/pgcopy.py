"""Vectorised encoder of PostgreSQL's binary COPY format for reading rows (numpy, no row loop).

Rows are grouped by their (original_unit, quality, register_value is null) combination; within a
group every tuple has the same byte layout, so one numpy structured array encodes the whole group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z in microseconds since 1970
COLUMNS = (
    "meter_id", "start_ts", "value", "original_unit", "quality", "register_value", "batch_id",
)


def encode_readings(frame: pd.DataFrame, batch_id: int) -> bytes:
    """Binary COPY payload for columns :data:`COLUMNS`.

    ``frame``: meter_id (int), start_ts (datetime64[ns, UTC]), value (float), original_unit (str),
    quality (str), register_value (float, NaN = NULL).
    """
    parts = [HEADER]
    n = len(frame)
    if n:
        ts_us = frame["start_ts"].dt.as_unit("us").array.asi8 - PG_EPOCH_US
        reg = frame["register_value"].to_numpy(dtype="float64")
        u_codes, u_names = pd.factorize(frame["original_unit"])
        q_codes, q_names = pd.factorize(frame["quality"])
        combo = (u_codes.astype("int64") * len(q_names) + q_codes) * 2 + np.isnan(reg)
        order = np.argsort(combo, kind="stable")
        bounds = np.flatnonzero(np.diff(combo[order])) + 1
        for idx in np.split(order, bounds):
            c = int(combo[idx[0]])
            reg_null, rest = bool(c % 2), c // 2
            unit, quality = str(u_names[rest // len(q_names)]), str(q_names[rest % len(q_names)])
            parts.append(
                _encode_group(frame, idx, ts_us, reg, unit, quality, reg_null, batch_id)
            )
    parts.append(TRAILER)
    return b"".join(parts)


def _encode_group(
    frame: pd.DataFrame, idx: np.ndarray, ts_us: np.ndarray, reg: np.ndarray, unit: str,
    quality: str, reg_null: bool, batch_id: int,
) -> bytes:
    ub, qb = unit.encode(), quality.encode()
    fields: list[tuple[str, str]] = [
        ("nf", ">i2"), ("l1", ">i4"), ("meter", ">i4"), ("l2", ">i4"), ("ts", ">i8"),
        ("l3", ">i4"), ("val", ">f8"), ("l4", ">i4"), ("unit", f"S{len(ub)}"), ("l5", ">i4"),
        ("q", f"S{len(qb)}"), ("l6", ">i4"),
    ]
    if not reg_null:
        fields.append(("reg", ">f8"))
    fields += [("l7", ">i4"), ("batch", ">i8")]
    arr = np.empty(len(idx), dtype=np.dtype(fields))
    arr["nf"] = len(COLUMNS)
    arr["l1"], arr["l2"], arr["l3"] = 4, 8, 8
    arr["meter"] = frame["meter_id"].to_numpy()[idx]
    arr["ts"] = ts_us[idx]
    arr["val"] = frame["value"].to_numpy(dtype="float64")[idx]
    arr["l4"], arr["unit"] = len(ub), ub
    arr["l5"], arr["q"] = len(qb), qb
    if reg_null:
        arr["l6"] = -1
    else:
        arr["l6"], arr["reg"] = 8, reg[idx]
    arr["l7"], arr["batch"] = 8, batch_id
    return arr.tobytes()

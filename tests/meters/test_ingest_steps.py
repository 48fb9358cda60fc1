"""The named steps of readings validation, each on a small hand-made chunk (no database), and
the chunk readers' boundaries: what each step adds to the frame and which rows it names."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from app.problems import Problem
from app.services.ingest import (
    MeterInfo,
    check_chunk,
    convert_units,
    gaps_from_keys,
    grid_errors,
    match_meters,
    month_span_errors,
    negative_errors,
    parse_columns,
    prepare,
    read_quality,
    repeated_key_errors,
    row_keys_of,
    window_errors,
)
from app.services.reading_chunks import JsonGuard, csv_chunks, json_chunks
from app.services.reading_upload import BatchLedger

ELEC = MeterInfo(id=7, code="E1", enterprise_id=1, carrier="electricity_import", unit="kWh",
                 canonical_unit="kWh", register="interval", interval_minutes=15)
TEMP = MeterInfo(id=9, code="T1", enterprise_id=1, carrier="temp_air", unit="degC",
                 canonical_unit="degC", register="interval", interval_minutes=15)
METERS = {"E1": ELEC, "T1": TEMP}


def chunk(text: str, block: int = 1 << 20) -> list:
    return list(csv_chunks(io.BytesIO(text.encode()), block_size=block))


def one(text: str):
    (raw,) = chunk(text)
    return raw


def errors_of(frames: list[pd.DataFrame]) -> list[tuple[int, str]]:
    if not frames:
        return []
    err = pd.concat(frames)
    return sorted(zip(err["row"].astype(int), err["field"], strict=True))


def test_parse_columns_names_bad_times_and_values_by_row() -> None:
    raw = one("meter,ts,value\nE1,2026-03-01T00:00:00+08:00,1\nE1,2026-03-01T00:15:00,x\n")
    frame, errors = parse_columns(raw)
    assert errors_of(errors) == [(2, "ts"), (2, "value")]
    assert frame["ts"].iloc[0] == pd.Timestamp("2026-02-28T16:00:00Z")


def test_window_and_month_span() -> None:
    raw = one("meter,ts,value\nE1,1999-12-31T23:00:00+08:00,1\nE1,2026-03-01T00:00:00+08:00,1\n"
              "E1,2031-01-01T00:00:00+08:00,1\n")
    frame, _ = parse_columns(raw)
    errors, inside = window_errors(frame, pd.Timestamp("2000-01-01T00:00+08:00"),
                                   pd.Timestamp("2027-01-01T00:00Z"))
    assert errors_of(errors) == [(1, "ts"), (3, "ts")]
    assert inside.tolist() == [False, True, False]
    firsts = pd.DataFrame({"month": [24000, 24001, 24002], "ts": [3, 2, 1], "row": [5, 9, 4]})
    assert month_span_errors(firsts, 3) == []
    assert errors_of(month_span_errors(firsts, 2)) == [(4, "ts")]


def test_meters_quality_units_grid_and_sign() -> None:
    raw = one("meter,ts,value,quality,unit\n"
              "E1,2026-03-01T00:00:00+08:00,1,,MWh\n"
              "XX,2026-03-01T00:00:00+08:00,1,ok,\n"
              "E1,2026-03-01T00:07:00+08:00,1,bogus,kWh\n"
              "E1,2026-03-01T00:30:00+08:00,-2,ESTIMATED,furlong\n"
              "T1,2026-03-01T00:00:00+08:00,-5,,\n")
    frame, _ = parse_columns(raw)
    assert errors_of(match_meters(frame, METERS)) == [(2, "meter")]
    assert frame["meter_id"].tolist()[:2] == [7, -1]
    assert errors_of(read_quality(raw.frame, frame)) == [(3, "quality")]
    assert frame["quality"].tolist() == ["ok", "ok", "ok", "estimated", "ok"]
    assert errors_of(convert_units(frame, raw.frame, METERS, 1e15)) == [(4, "unit")]
    assert frame["value"].iloc[0] == 1000.0  # MWh → kWh
    assert errors_of(grid_errors(frame)) == [(3, "ts")]
    assert errors_of(negative_errors(frame, METERS)) == [(4, "value")]  # not the temperature


def test_beyond_the_limit_after_conversion() -> None:
    raw = one("meter,ts,value,unit\nE1,2026-03-01T00:00:00+08:00,1e308,MWh\n")
    frame, _ = parse_columns(raw)
    match_meters(frame, METERS)
    assert errors_of(convert_units(frame, raw.frame, METERS, 1e15)) == [(1, "value")]


def test_repeated_keys_in_a_chunk() -> None:
    raw = one("meter,ts,value\nE1,2026-03-01T00:00:00+08:00,1\nE1,2026-03-01T00:00:00+08:00,1\n"
              "E1,2026-03-01T00:15:00+08:00,1\nE1,2026-03-01T00:15:00+08:00,2\n")
    frame, _ = parse_columns(raw)
    match_meters(frame, METERS)
    errors, repeats = repeated_key_errors(frame)
    assert repeats and errors_of(errors) == [(3, "value"), (4, "value")]
    checked = check_chunk(one("meter,ts,value\nE1,2026-03-01T00:00:00+08:00,1\n"
                              "E1,2026-03-01T00:00:00+08:00,1\n"), METERS, ceilings_per_hour={})
    assert (checked.errors, len(checked.rows), checked.received_rows) == ([], 1, 2)


def test_implausible_flag_from_the_meter_ceiling() -> None:
    meters = {"E1": MeterInfo(**{**ELEC.__dict__, "max_per_hour": 40.0})}
    checked = check_chunk(one("meter,ts,value\nE1,2026-03-01T00:00:00+08:00,9\n"
                              "E1,2026-03-01T00:15:00+08:00,11\n"), meters,
                          ceilings_per_hour={})
    assert checked.rows["quality"].tolist() == ["ok", "implausible"]


def test_csv_chunks_number_rows_across_blocks() -> None:
    lines = [f"E1,2026-03-01T{h:02d}:{m:02d}:00+08:00,{h * 4 + m // 15}"
             for h in range(10) for m in (0, 15, 30, 45)]
    raws = chunk("meter,ts,value\n" + "\n".join(lines) + "\n", block=256)
    assert len(raws) > 3
    rows = np.concatenate([r.frame["row"].to_numpy() for r in raws])
    assert rows.tolist() == list(range(1, 41))
    values = np.concatenate([r.value.to_numpy() for r in raws]).astype(float)
    assert values.tolist() == list(range(40))


def test_csv_nul_is_named_by_row_and_column() -> None:
    text = "meter,ts,value\n" + "E1,2026-03-01T00:00:00+08:00,1\n" * 20 + "E\x001,x,1\n"
    with pytest.raises(Problem) as caught:
        chunk(text, block=256)
    assert caught.value.errors == [
        {"row": 21, "field": "meter", "message": "contains a NUL character (U+0000)"}]


def test_json_chunks_and_depth_guard() -> None:
    records = [{"meter": "E1", "ts": "2026-03-01T00:00:00+08:00", "value": i} for i in range(12)]
    raws = list(json_chunks(io.BytesIO(json.dumps(records).encode()), rows=5))
    assert [len(r) for r in raws] == [5, 5, 2]
    assert raws[2].frame["row"].tolist() == [11, 12]
    with pytest.raises(Problem) as caught:
        list(json_chunks(io.BytesIO(b"[" * 5000 + b"]" * 5000), max_json_depth=64))
    assert caught.value.kind == "json-too-deep"
    assert "64" in caught.value.detail


def test_json_guard_carries_strings_and_escapes_across_blocks() -> None:
    guard = JsonGuard(io.BytesIO(), max_depth=3)
    # A bracket inside a string split across blocks, and an escaped quote split at a backslash.
    for block in (b'[{"a": "x[[[[\\', b'"[[[[", "b": [1', b"]}]"):
        guard.check(block)
    assert (guard.depth, guard.in_string, guard.suspect) == (0, False, False)
    guard = JsonGuard(io.BytesIO(), max_depth=64)
    guard.check(b'[{"meter": "a\\ud8')
    guard.check(b'00"}]')
    assert guard.suspect


def test_ledger_finds_keys_repeated_across_chunks_and_gaps() -> None:
    ledger = BatchLedger()
    first = check_chunk(one("meter,ts,value\nE1,2026-03-01T00:00:00+08:00,1\n"
                            "E1,2026-03-01T00:15:00+08:00,2\n"), METERS, ceilings_per_hour={})
    later = one("meter,ts,value\nE1,2026-03-01T01:00:00+08:00,3\nE1,2026-03-01T00:15:00+08:00,5\n"
                "E1,2026-03-01T00:00:00+08:00,1\n")
    later.frame["row"] += 2
    ledger.add(first)
    ledger.add(check_chunk(later, METERS, ceilings_per_hour={}))
    errors, drop, keys = ledger.repeats()
    assert drop and errors_of(errors) == [(2, "value"), (4, "value")]
    assert len(keys) == 3
    gaps = gaps_from_keys(keys, METERS)
    assert [(g["meter"], g["missing_intervals"]) for g in gaps] == [("E1", 2)]
    assert row_keys_of(first.rows).tolist() == sorted(row_keys_of(first.rows).tolist())


def test_prepare_composes_the_steps_for_a_batch_held_in_memory() -> None:
    reg = MeterInfo(id=11, code="R1", enterprise_id=1, carrier="electricity_import", unit="kWh",
                    canonical_unit="kWh", register="cumulative", interval_minutes=15)
    meters = {**METERS, "R1": reg}
    asked: list[list[int]] = []

    def previous(ids: list[int], first: pd.Series) -> pd.DataFrame:
        asked.append(ids)
        return pd.DataFrame({"meter_id": [11], "ts": [first.iloc[0] - pd.Timedelta("15min")],
                             "value": [95.0]})

    prepared = prepare(one("meter,ts,value\nE1,2026-03-01T00:00:00+08:00,4\n"
                           "R1,2026-03-01T00:15:00+08:00,100\nR1,2026-03-01T00:30:00+08:00,103\n"),
                       meters, ceilings_per_hour={}, previous_registers=previous)
    assert asked == [[11]]
    assert prepared.rows["value"].tolist() == [4.0, 5.0, 3.0]
    assert prepared.received_rows == 3
    with pytest.raises(Problem) as caught:
        prepare(one("meter,ts,value\nE1,2026-03-01T00:00:00+08:00,-4\n"), meters,
                ceilings_per_hour={}, previous_registers=previous)
    assert caught.value.errors == [{"row": 1, "field": "value",
                                    "message": "negative interval consumption is impossible"}]

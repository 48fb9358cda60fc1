"""Cost of writing a big JSON answer: the service's renderer (type-dispatched tidy, then orjson)
against the previous one (a tidy walking every value through isinstance checks, then the
standard library's json.dumps; kept below as the reference) and against plain json.dumps of
the same content without any tidying (the floor the previous figure was measured against).

The answer: a year of 15-minute readings of one meter as the series route hands it to the
renderer (35,136 points of start time with +08:00, a summed value carrying float noise, quality,
count). Paired fresh-process runs (benchmarks/harness.py): median (min–max), peak RSS growth,
load average. Run from the repository root:

    python benchmarks/json_answers.py [--runs 5] [--write]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import TABLE_HEADER, machine_line, paired

POINTS = 35_136
TZ = ZoneInfo("Asia/Shanghai")


def big_answer() -> dict[str, Any]:
    t0 = datetime(2026, 1, 1, tzinfo=TZ)
    points = [{"start": (t0 + timedelta(minutes=15 * i)).isoformat(),
               "value": 0.1 * (i % 7) + 0.2 * (i % 3) + 12.5, "quality": "ok", "count": 1}
              for i in range(POINTS)]
    return {"meter": "LS-PHARMA-electricity_import", "unit": "kWh", "resolution": "raw",
            "points": points}


# ---- the previous renderer, as it was, for reference --------------------------------------
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")


def previous_tidy(value: Any) -> Any:
    if isinstance(value, float):
        if len(repr(value)) > 14 and math.isfinite(value):
            return float(f"{value:.12g}")
        return value
    if isinstance(value, str):
        if value.endswith("+08:00"):
            return value
        if len(value) >= 16 and value[4:5] == "-" and _ISO.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(TZ) \
                .isoformat()
        return value
    if isinstance(value, dict):
        return {k: previous_tidy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [previous_tidy(v) for v in value]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(TZ).isoformat()
    return value


def _stdlib(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":")).encode("utf-8")


# ---- sides (each returns the timed call) --------------------------------------------------
def ours_side() -> Callable[[], int]:
    from app.json_answers import dumps

    content = big_answer()
    return lambda: len(dumps(content))


def previous_side() -> Callable[[], int]:
    content = big_answer()
    return lambda: len(_stdlib(previous_tidy(content)))


def plain_side() -> Callable[[], int]:
    content = big_answer()
    return lambda: len(_stdlib(content))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    from app.json_answers import dumps

    content = big_answer()
    assert json.loads(dumps(content)) == json.loads(_stdlib(previous_tidy(content))), \
        "the two renderers answer differently"
    vs_previous = paired("benchmarks.json_answers:ours_side",
                         "benchmarks.json_answers:previous_side", runs=args.runs)
    vs_plain = paired("benchmarks.json_answers:ours_side",
                      "benchmarks.json_answers:plain_side", runs=args.runs)
    lines = [
        "# JSON answers", "",
        "```bash", f"python benchmarks/json_answers.py --runs {args.runs} --write", "```", "",
        f"A year of 15-minute readings of one meter ({POINTS:,} points) rendered as the series"
        " route answers it. Ours: type-dispatched tidy (park offset, 12 significant digits)"
        " then orjson. Previous: isinstance-walking tidy then json.dumps. Plain: json.dumps"
        " without tidying (no rounding, no offset check). Both renderers give the same JSON"
        " (checked).", "", machine_line(), "", TABLE_HEADER,
        vs_previous.row("ours vs previous renderer"),
        vs_plain.row("ours vs plain json.dumps, untidied"),
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        (Path(__file__).resolve().parent / "RESULTS_json.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()

"""Cost of typed answers: an answer dict validated into its pydantic model and rendered, against
the same dict rendered as before (FastAPI's ``jsonable_encoder``, no model), both through the
service's ``ParkJSONResponse``.

    PYTHONPATH=. python benchmarks/answer_models.py [--runs 7] [--repeat 200]

Inputs (built in set-up, outside the timing): the overview of a month for 300 enterprises in 4
zones (31 daily buckets: each enterprise carries two 31-point series), and a park ledger of a
year from the carbon library (``compute_ledger``) with the provenance the service adds. Each
timed call renders the answer ``--repeat`` times. Paired fresh-process runs
(benchmarks/harness.py); the question is how much the model adds to a request, not a speed-up.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from energy.site import PARK_TZ, PARK_ZONE


def overview_answer(enterprises: int = 300, days: int = 31) -> dict[str, Any]:
    """A month overview shaped as ``app.services.overview.build_overview`` answers it."""
    start = datetime(2026, 3, 1, tzinfo=PARK_ZONE)
    buckets = [start + timedelta(days=i) for i in range(days)]

    def electricity(k: float) -> dict[str, float]:
        return {"grid_import_kwh": 1234.5 * k, "grid_export_kwh": 12.25 * k,
                "pv_kwh": 321.125 * k, "load_kwh": 1543.375 * k, "energy_tce": 0.1896 * k}

    zones = ["A区", "B区", "综合保税区", "聂当工业园"]
    ents = [{"code": f"E-{i:04d}", "name": f"企业{i}", "zone": zones[i % 4], "industry": "test",
             "energy_tce": 1.0 / (i + 1), "electricity_kwh": 1000.0 / (i + 1),
             "series_tce": [0.1 / (i + 1 + d) for d in range(days)],
             "series_electricity_kwh": [100.0 / (i + 1 + d) for d in range(days)],
             "flagged_readings": i % 3, "share_pct": 100.0 / enterprises}
            for i in range(enterprises)]
    return {
        "period": "month", "date": date(2026, 3, 15), "timezone": PARK_TZ,
        "start": start, "end": start + timedelta(days=days), "bucket": "day",
        "scope": {"role": "operator", "enterprise": None}, "factor_set": "cn-2026.1",
        "tiles": {"today": {"start": buckets[14], "end": buckets[15], "pv_expected_kwh": None,
                            **electricity(1.0)},
                  "month": {"start": start, "end": start + timedelta(days=days),
                            "pv_expected_kwh": None, **electricity(31.0)}},
        "balance": {"points": [{"start": b, **electricity(1.0 + i / 7)}
                               for i, b in enumerate(buckets)], "totals": electricity(31.0)},
        "mix": [{"carrier": c, "quantity": 1e5 / (n + 1), "unit": "kWh",
                 "energy_tce": 12.3 / (n + 1)} for n, c in enumerate(
                     ("electricity_import", "pv_generation", "natural_gas", "diesel"))],
        "zones": [{"zone": z, "energy_tce": 3.3, "electricity_kwh": 4.4e4, "enterprises": 75,
                   "series_tce": [0.1 * d for d in range(days)], "share_pct": 25.0}
                  for z in zones],
        "enterprises": ents, "alerts": {"open": 3},
        "modules": {"pv": True, "storage": False, "carbon": True, "scenarios": True},
        "storage": None, "carbon": None, "elapsed_ms": 12.3,
    }


def ledger_answer() -> dict[str, Any]:
    """A park ledger of a year as the service answers it (library ledger + provenance)."""
    from carbon import Activity, compute_ledger

    led = compute_ledger({"electricity_import_kwh": 8.7e7, "pv_generation_kwh": 1.2e7,
                          "electricity_export_kwh": 4.0e5, "natural_gas_nm3": 2.1e6,
                          "diesel_t": 120.0, "heat_gj": 5.0e4},
                         Activity(value_added_10k_yuan=5.2e5, process_co2_t=800.0),
                         period="2026", scope="park", code="park")
    answer = led.to_dict()
    answer.update(status="open", input_hash="ab" * 32, version=None, latest_version=None,
                  restated=False, basis="calorific", basis_zh="当量值", provenance={
                      "source": "meter-day rollups", "factor_set": answer["factor_set"],
                      "policy_version": "1", "months": 12, "months_with_data": 12,
                      "meters": [f"M-{i}" for i in range(400)], "meter_count": 400,
                      "readings": 14_000_000, "flagged_readings": 12,
                      "reading_batches": list(range(365)), "direct_green_metered_kwh": 0.0,
                      "ignored_carriers": []})
    return answer


ANSWERS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "overview": (overview_answer, "app.schemas.overview:OverviewOut"),
    "ledger": (ledger_answer, "app.schemas.carbon:LedgerOut"),
}


def _model(path: str) -> Any:
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def typed(answer: str, repeat: int) -> Callable[[], int]:
    """What a route with a response model does: validate, dump unset-free JSON, render."""
    from app.json_answers import ParkJSONResponse

    build, model_path = ANSWERS[answer]
    data, model = build(), _model(model_path)
    response = ParkJSONResponse(content=None)

    def call() -> int:
        n = 0
        for _ in range(repeat):
            m = model.model_validate(data)
            n += len(response.render(m.model_dump(mode="json", exclude_unset=True)))
        return n

    return call


def untyped(answer: str, repeat: int) -> Callable[[], int]:
    """What a route without a model did: ``jsonable_encoder`` of the dict, render."""
    from fastapi.encoders import jsonable_encoder

    from app.json_answers import ParkJSONResponse

    data = ANSWERS[answer][0]()
    response = ParkJSONResponse(content=None)

    def call() -> int:
        return sum(len(response.render(jsonable_encoder(data))) for _ in range(repeat))

    return call


def main() -> None:
    from benchmarks.harness import TABLE_HEADER, machine_line, paired

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    rows = []
    for name in ANSWERS:
        kw = {"answer": name, "repeat": args.repeat}
        p = paired("benchmarks.answer_models:typed", "benchmarks.answer_models:untyped",
                   runs=args.runs, ours_kwargs=kw, ref_kwargs=kw)
        assert len(set(p.results["ref"])) == 1, "the untyped render varies"
        per_ms = 1000 / args.repeat
        rows.append(f"{p.row(name)} {p.ref.median * per_ms:.2f} → "
                    f"{p.ours.median * per_ms:.2f} ms | "
                    f"{p.results['ref'][0] // args.repeat:,} → "
                    f"{p.results['ours'][0] // args.repeat:,} |")
    print(machine_line())
    print("'ours' = with the model, 'reference' = the dict as before: a 'speed-up' below 1× is "
          "what the model costs.")
    print(TABLE_HEADER.replace(" |\n", " | per answer, before → with model | JSON bytes, "
                               "before → with model |\n", 1).replace("| --- |\n", "", 0)
          + " --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

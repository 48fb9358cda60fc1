"""Answers show every timestamp with the park's offset (+08:00, never Z next to it) and numbers
without binary float noise."""

from __future__ import annotations

import re

from tests.conftest import auth

TS = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d[^"]*)"')
NOISE = re.compile(r"\d\.\d*(0000000000|9999999999)\d")


def _post(client, key, rows: str) -> None:
    r = client.post("/v1/readings", content="meter,ts,value\n" + rows,
                    headers={**auth(key), "Content-Type": "text/csv"})
    assert r.status_code == 200, r.text


def test_timestamps_in_the_parks_offset_and_no_float_noise(client, operator_key,
                                                          make_enterprise, make_meter):
    ent = make_enterprise()
    m = make_meter(ent["code"], "electricity_import")["code"]
    # 0.1 + 0.2 + 0.1 + 0.2 is 0.6000000000000001 in binary floating point
    _post(client, operator_key, "".join(
        f"{m},2026-03-02T10:{q:02d}:00+08:00,{v}\n" for q, v in ((0, 0.1), (15, 0.2),
                                                                  (30, 0.1), (45, 0.2))))
    _post(client, operator_key, f"{m},2026-03-02T10:00:00+08:00,0.3\n")  # a revision
    window = {"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00"}
    hourly = client.get(f"/v1/meters/{m}/readings", headers=auth(operator_key),
                        params={**window, "resolution": "hour"})
    assert hourly.status_code == 200
    assert '"value":0.8' in hourly.text.replace(" ", ""), hourly.text
    assert "0.80000000000000" not in hourly.text and "0.7999999" not in hourly.text
    for path, params in ((f"/v1/meters/{m}/revisions", {}),
                         (f"/v1/meters/{m}/readings", {**window, "resolution": "raw"}),
                         ("/v1/alerts", {}), (f"/v1/meters/{m}", {}),
                         ("/v1/overview", {"period": "day", "date": "2026-03-02"}),
                         ("/v1/overview", {"period": "month", "date": "2026-03-02"}),
                         ("/v1/park/energy", {**window, "by": "enterprise"})):
        r = client.get(path, headers=auth(operator_key), params=params)
        assert r.status_code == 200, (path, r.text)
        stamps = TS.findall(r.text)
        assert all(s.endswith("+08:00") for s in stamps), (path, stamps)
        assert not NOISE.search(r.text), (path, NOISE.findall(r.text))
    revisions = client.get(f"/v1/meters/{m}/revisions", headers=auth(operator_key)).text
    assert len(TS.findall(revisions)) >= 2

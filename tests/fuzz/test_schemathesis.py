"""Schema-driven fuzzing of every operation with schemathesis: a real uvicorn on 127.0.0.1 over a
scratch database of its own (what the fuzzer writes stays out of the other tests' data), once
with an operator key and once with an enterprise key, a fixed seed and a fixed number of examples
per operation (about two minutes on two cores). Any 5xx, or an answer that its declared status,
content type or schema does not cover, fails the test.

Path and query parameters named ``code``, ``enterprise``, ``meter`` and ``period`` take a known
value half of the time (an enterprise, meter, PV array and storage station all coded ``FZ-1``,
seeded below), so the fuzzer reaches past the 404s into the routes' own logic.

Run alone: ``pytest tests/fuzz -m fuzz -s`` prints schemathesis' summary; ``-m "not fuzz"`` skips.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from app import migrate
from app.auth import create_api_key
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Enterprise
from app.scratch_db import scratch_database
from tests.live_server import live_server

pytestmark = pytest.mark.fuzz

SEED = 20261129
MAX_EXAMPLES = int(os.environ.get("ZCPARK_FUZZ_EXAMPLES", "12"))
"""Examples per operation and phase; 12 keeps both runs near two minutes on two cores."""
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
CODE = "FZ-1"
CONFIG = f"""
[dictionaries.codes]
values = ["{CODE}"]

[dictionaries.periods]
values = ["2026", "2026-03", "2026-Q1"]

[parameters]
"path.code" = {{ dictionary = "codes", probability = 0.5 }}
"query.enterprise" = {{ dictionary = "codes", probability = 0.5 }}
"query.meter" = {{ dictionary = "codes", probability = 0.5 }}
"query.code" = {{ dictionary = "codes", probability = 0.5 }}
"path.period" = {{ dictionary = "periods", probability = 0.5 }}
"query.period" = {{ dictionary = "periods", probability = 0.5 }}
"""


def _seed(base: str, operator: str) -> None:
    """One enterprise with a meter, a day of readings, a PV array and a storage station."""
    h = {"Authorization": f"Bearer {operator}"}
    posts = [
        ("/v1/enterprises", {"code": CODE, "name": "模糊测试企业", "zone": "A区"}),
        ("/v1/meters", {"code": CODE, "enterprise": CODE, "carrier": "electricity_import"}),
        ("/v1/pv/arrays", {"code": CODE, "enterprise": CODE, "capacity_kwp": 100,
                           "tilt_deg": 20, "azimuth_deg": 180}),
        ("/v1/storage", {"code": CODE, "name": "储能站", "zone": "A区", "enterprise": CODE}),
    ]
    with httpx.Client(base_url=base, headers=h, timeout=60) as client:
        for path, body in posts:
            r = client.post(path, json=body)
            assert r.status_code == 201, (path, r.text)
        rows = "\n".join(f"{CODE},2026-03-01T{h:02d}:00:00+08:00,{10 + h}" for h in range(24))
        r = client.post("/v1/readings", content=f"meter,ts,value\n{rows}\n",
                        headers={"content-type": "text/csv"})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def fuzz_target() -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, {role: key}) of a live server on a scratch database."""
    with scratch_database(os.environ.get("DATABASE_URL"), "zcpark_fuzz") as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine, use_timescale=os.environ.get("ZCPARK_TIMESCALE", "auto"))
            app = create_app(Settings(database_url=url, scheduler_enabled=False,
                                      aggregate_refresh="sync"), engine=engine)
            with Session(engine) as session, session.begin():
                operator = create_api_key(session, "operator", None, label="fuzz")
            with live_server(app) as base:
                _seed(base, operator)
                with Session(engine) as session, session.begin():
                    ent_id = session.query(Enterprise.id).filter_by(code=CODE).scalar()
                    enterprise = create_api_key(session, "enterprise", ent_id, label="fuzz")
                yield base, {"operator": operator, "enterprise": enterprise}
                if app.state.ingest_context.refresher is not None:
                    app.state.ingest_context.refresher.wait()
        finally:
            engine.dispose()


def run_schemathesis(base: str, key: str, config: Path) -> tuple[int, str]:
    """Exit code and output of one schemathesis run (examples, coverage and fuzzing phases);
    it runs in the config's folder, where it keeps its cache."""
    cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
           f"{base}/openapi.json", "--header", f"Authorization: Bearer {key}",
           "--checks", CHECKS, "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
           "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-shrink",
           "--warnings", "off", "--request-timeout", "60"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=config.parent,
                          env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""})
    return done.returncode, done.stdout + done.stderr


def test_no_answer_is_a_5xx_or_outside_the_schema(fuzz_target, tmp_path):
    base, keys = fuzz_target
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    total = 0
    for role, key in keys.items():
        code, output = run_schemathesis(base, key, config)
        assert code == 0, f"schemathesis with the {role} key:\n{output[-12000:]}"
        m = re.search(r"(\d+) generated", output)
        assert m, output[-3000:]
        total += int(m.group(1))
        print(f"\n[{role}] {m.group(0)}; {output.strip().splitlines()[-1]}")
    print(f"\nfuzz: {total} requests over both keys (seed {SEED}, {MAX_EXAMPLES} examples)")
    assert total > 1000

"""The command line and the server log say only what matters: no XDG_RUNTIME_DIR warning, no
HiGHS banner, no APScheduler "skipped" line for a job that is still running by design."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_cli_help_without_xdg_runtime_dir_is_quiet():
    for args in (["--help"], ["keys", "create", "--help"], ["serve", "--help"]):
        r = _run("from app.cli import main; main()", *args)
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", (args, r.stderr)
        assert "XDG_RUNTIME_DIR" not in r.stdout


def test_dispatch_prints_no_highs_banner():
    r = _run("""
import numpy as np, pandas as pd
from energy.storage import default_station, optimize_dispatch
from energy.storage import DispatchSignals
idx = pd.date_range("2026-06-01", periods=96, freq="15min", tz="Asia/Shanghai")
optimize_dispatch(DispatchSignals(pd.Series(np.full(96, 50.0), idx), None,
                                  price_yuan_per_mwh=pd.Series(np.where(idx.hour >= 18, 900.0,
                                                                        300.0), idx)),
                  default_station())
print("solved")
""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "solved", r.stdout
    assert "HiGHS" not in r.stderr


def test_scheduler_drops_the_skipped_run_warning(caplog):
    import app.scheduler  # noqa: F401  (installs the filter)

    with caplog.at_level(logging.INFO):
        logging.getLogger("apscheduler.scheduler").warning(
            'Execution of job "%s" skipped: maximum number of running instances reached (%d)',
            "scenario_queue_job", 1)
        logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed")
    assert [r.getMessage() for r in caplog.records] == ["Run time of job was missed"]

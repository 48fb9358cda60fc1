"""The embedded database lives in one per-user folder, whatever folder a command runs in; a
command other than serve/migrate never creates a fresh empty database: it names the folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_default_data_dir_is_the_users_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("ZCPARK_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # not relative to the working folder
    expected = platformdirs.user_data_path("zcpark", appauthor=False)
    assert Settings().data_dir == expected and expected.is_absolute()
    monkeypatch.setenv("ZCPARK_DATA_DIR", str(tmp_path / "elsewhere"))
    assert Settings().data_dir == tmp_path / "elsewhere"


def test_keys_create_without_a_database_names_the_folder_and_creates_nothing(tmp_path):
    data = tmp_path / "zcpark-data"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update({"ZCPARK_DATA_DIR": str(data), "PYTHONPATH": str(ROOT)})
    r = subprocess.run([sys.executable, "-c", "from app.cli import main; main()", "keys",
                        "create", "--role", "operator"], env=env, capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert str(data) in r.stderr and "zcpark serve" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not (data / "pg").exists()

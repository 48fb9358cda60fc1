"""A CJK font installed after matplotlib built its font cache is found, and the cache is saved
again, so the Chinese report's plots get Chinese glyphs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib import font_manager

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, config_dir: Path) -> str:
    env = {**os.environ, "MPLCONFIGDIR": str(config_dir), "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_font_cache_without_the_installed_cjk_font_is_rebuilt(tmp_path):
    if not any("cjk" in Path(p).name.lower() for p in font_manager.findSystemFonts()):
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    # matplotlib's cache as it was built before the CJK font was installed
    _python("from matplotlib import font_manager", tmp_path)
    (cache,) = tmp_path.glob("fontlist-v*.json")
    doc = json.loads(cache.read_text())
    doc["ttflist"] = [f for f in doc["ttflist"] if "CJK" not in f["name"]]
    cache.write_text(json.dumps(doc))
    assert _python("from app.services.carbon_report import cjk_font; print(cjk_font())",
                   tmp_path) == "Noto Sans CJK SC"
    # saved for every later process
    assert _python("from matplotlib import font_manager as fm; print(any('CJK' in f.name for f"
                   " in fm.fontManager.ttflist))", tmp_path) == "True"

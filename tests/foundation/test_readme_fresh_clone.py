"""The README's two commands on a fresh clone, as a new user runs them with only Python:

1. ``python3 -m venv .venv && . .venv/bin/activate && pip install . && zcpark serve --demo``,
   then Ctrl-C, then ``zcpark serve --demo`` again: the second start serves the same demo park
   with the same operator key file, on the embedded PostgreSQL in the user's data folder;
2. ``bash scripts/test.sh`` (here on one test module that needs the database).

The clone is this checkout's committed tree plus its uncommitted changes, so what is tested is
what is on disk. The virtual environments are cached per pyproject.toml under
``~/.cache/zcpark-readme-test`` so the installs cost their full time only once per machine;
``pip install .`` itself (the project's wheel) runs every time, as the README says.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path.home() / ".cache" / "zcpark-readme-test"

pytestmark = [pytest.mark.readme,
              pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None,
                                 reason="needs a git checkout and git")]


def _run(cmd: list[str] | str, cwd: Path, env: dict[str, str], timeout_s: float,
         shell: bool = False) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout_s, shell=shell, executable="/bin/bash" if shell else None)
    assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return r


def _fresh_clone(dest: Path, env: dict[str, str]) -> Path:
    """A clone of this checkout with its uncommitted and untracked (not ignored) files."""
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], ROOT, env, 120)
    diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=ROOT, capture_output=True,
                          check=True).stdout
    if diff:
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=dest, input=diff,
                       check=True, capture_output=True)
    untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "-z"],
                               cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, untracked.decode().split("\0")):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest


def _user_env(home: Path, venv: Path) -> dict[str, str]:
    """A shell as the user has it after ``. .venv/bin/activate``: no DATABASE_URL, no test
    settings, the embedded database in a data folder of its own."""
    keep = ("HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
            "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_CONFIG_FILE", "UV_INDEX_URL")
    env = {k: v for k, v in os.environ.items() if k in keep}
    # the user's PATH (as root it holds /usr/sbin, where the embedded server finds useradd),
    # without this checkout's own virtual environment
    path = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(":")
            if p and not p.startswith(str(ROOT)) and os.environ.get("VIRTUAL_ENV", "\0") not in p]
    env.update({"VIRTUAL_ENV": str(venv), "PATH": ":".join([str(venv / "bin"), *path]),
                "ZCPARK_DATA_DIR": str(home / "zcpark-data"), "PYTHONUNBUFFERED": "1"})
    return env


def _cached_venv(name: str, clone: Path) -> Path:
    digest = hashlib.sha256((clone / "pyproject.toml").read_bytes()).hexdigest()[:16]
    venv = CACHE / f"{name}-{digest}"
    if not (venv / "bin" / "python").exists():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True, timeout=120)
    return venv


def _serve(clone: Path, env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        # its own process group, so SIGINT reaches it as Ctrl-C in a terminal does
        return subprocess.Popen(["zcpark", "serve", "--demo", "--port", str(port)], cwd=clone,
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve --demo exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"serve --demo did not answer /health:\n{log.read_text()}")


def _ctrl_c(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.poll() is not None:  # already gone: its exit was reported where it was seen
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError(f"Ctrl-C did not stop the service:\n{log.read_text()}") from None
    assert code == 0, log.read_text()


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder for the clone and the data folder that the embedded server's own user can
    reach when the tests run as root (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="zcpark-readme-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_readme_quick_start_twice_and_test_command_on_a_fresh_clone(home):
    tmp_path = home
    clone = _fresh_clone(tmp_path / "zcpark", dict(os.environ))
    venv = _cached_venv("serve", clone)
    env = _user_env(tmp_path, venv)

    # 1. pip install . (the README's first command, up to serve)
    _run("python -m pip install -q --upgrade pip && pip install -q .", clone, env, 1800,
         shell=True)
    port = free_port()
    log = tmp_path / "serve.log"
    first = _serve(clone, env, port, log)
    try:
        _wait_healthy(first, port, log, timeout_s=900)
    finally:
        _ctrl_c(first, log)
    key_file = tmp_path / "zcpark-data" / "demo-operator-key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    first_out = log.read_text()

    second = _serve(clone, env, port, log)
    try:
        _wait_healthy(second, port, log, timeout_s=300)
        out = log.read_text()[len(first_out):]
        assert "Traceback" not in out, out
        assert str(tmp_path / "zcpark-data") in out  # the data folder is shown
        assert "keeping its data" in out, out
        assert key_file.read_text().strip() == key  # the same key still opens the park
        base = f"http://127.0.0.1:{port}"
        overview = httpx.get(f"{base}/v1/overview", timeout=60,
                             headers={"Authorization": f"Bearer {key}"})
        assert overview.status_code == 200, overview.text
        assert httpx.get(f"{base}/docs", timeout=30).status_code == 200
    finally:
        _ctrl_c(second, log)

    # 2. bash scripts/test.sh, with the test extras in a venv of their own (cached), on one
    #    module that needs the database: the embedded server starts without DATABASE_URL.
    test_env = _user_env(tmp_path, _cached_venv("test", clone))
    r = _run(["bash", "scripts/test.sh", "-q", "-p", "no:cacheprovider",
              "tests/meters/test_value_resolution.py"], clone, test_env, 1800)
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout[-2000:]

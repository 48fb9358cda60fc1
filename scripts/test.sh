#!/usr/bin/env bash
# The README's test command: install the project with its test extras into the project's own
# virtual environment (.venv, created when missing; an already active one is used as it is),
# then lint (ruff, and lint-imports: the import contracts of pyproject.toml), type-check (mypy)
# and run every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
ruff check .
lint-imports
mypy  # strict on energy/, carbon/, simulations/ ([tool.mypy] in pyproject.toml)
python -m pytest "$@"

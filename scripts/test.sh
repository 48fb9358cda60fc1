#!/usr/bin/env bash
# The README's test command: install the project with its test extras, then lint and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
ruff check .
python -m pytest "$@"

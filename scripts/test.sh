#!/usr/bin/env bash
# Set up a virtual environment with the project and its test tools, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
exec .venv/bin/python -m pytest "$@"

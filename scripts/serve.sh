#!/usr/bin/env bash
# Set up a virtual environment with the service, then start it on the embedded default
# (in-process block cache, models in ./var/models; no Redis needed). Configure with RNTK_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[service]'
export RNTK_DATA_DIR="${RNTK_DATA_DIR:-$PWD/var}"
export PATH="$PWD/.venv/bin:$PATH"
exec scripts/run-server.sh "$@"

#!/usr/bin/env bash
# Set up a virtual environment with the service (installed only when pyproject.toml or the
# interpreter changed: scripts/venv.sh), then start it on the embedded default (in-process block
# cache, models in ./var/models; no Redis needed). Configure with RNTK_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv service
export RNTK_DATA_DIR="${RNTK_DATA_DIR:-$PWD/var}"
export PATH="$PWD/.venv/bin:$PATH"
exec scripts/run-server.sh "$@"

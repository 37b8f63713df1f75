#!/usr/bin/env bash
# Set up a virtual environment with the project and its test tools (installed only when
# pyproject.toml or the interpreter changed: scripts/venv.sh), then run the whole test suite.
# The service tests start their own redis-server on a free port; if the binary is missing and
# this runs as root on Debian/Ubuntu, it is installed from the distribution's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
source scripts/venv.sh
ensure_venv dev
exec .venv/bin/python -m pytest "$@"

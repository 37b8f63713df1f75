#!/usr/bin/env bash
# Start the service in the current Python environment: uvicorn serving service.app:app.
# The one entry point of scripts/serve.sh and of the Docker image (docker/Dockerfile).
# RNTK_HOST (default 127.0.0.1), RNTK_PORT (8000) and RNTK_WORKERS (1 process) say where it
# listens and how many worker processes share the port; every other RNTK_* variable is a
# setting read by service/settings.py. Extra arguments go to uvicorn (e.g. --log-level warning).
set -euo pipefail
exec python -m uvicorn service.app:app \
    --host "${RNTK_HOST:-127.0.0.1}" --port "${RNTK_PORT:-8000}" --workers "${RNTK_WORKERS:-1}" "$@"

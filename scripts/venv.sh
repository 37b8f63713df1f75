# Sourced by scripts/serve.sh and scripts/test.sh (from the project root): `ensure_venv EXTRA` makes
# .venv hold the project, installed editable with its EXTRA ("service", "dev"), installing only when
# something that install depends on has changed since the last one.
#
# An editable install needs no reinstall when the code changes; it does when pyproject.toml changes
# (dependencies, extras, packages) or the environment's interpreter does. So each install leaves a
# stamp, .venv/.rntk-install-EXTRA, holding the extra, the SHA-256 of pyproject.toml and the
# interpreter's version and prefix; while the stamp still says the same, the install is skipped
# (a restart then takes the service's own start-up time). Each extra has its own stamp. A fresh
# clone, a deleted .venv or an edited pyproject.toml installs again, as the first start does.

venv_stamp() {
    # What an install of the project with extra $1 into .venv depends on, one line.
    .venv/bin/python - "$1" <<'PY'
import hashlib
import sys

with open("pyproject.toml", "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print(f"extra={sys.argv[1]} pyproject={digest} python={sys.version.split()[0]} prefix={sys.prefix}")
PY
}

venv_is_current() {
    # Whether .venv holds the install of extra $1 that pyproject.toml and its interpreter call for.
    local stamp=".venv/.rntk-install-$1"
    [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(venv_stamp "$1" 2>/dev/null)" = "$(cat "$stamp")" ]
}

ensure_venv() {
    # Create .venv if needed and install the project with extra $1 into it, unless it is current.
    local extra="$1" stamp=".venv/.rntk-install-$1"
    if venv_is_current "$extra"; then
        return 0
    fi
    echo "scripts/venv.sh: installing the project with its [$extra] extra into .venv" >&2
    rm -f "$stamp"
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$extra]"
    venv_stamp "$extra" > "$stamp"
}

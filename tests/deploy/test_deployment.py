"""The deployment files, checked without a Docker engine.

No Docker engine runs where these tests run, so they check what can be checked
here: docker-compose.yml parses and names only paths and settings that exist;
the image is multi-stage, runs as a non-root user and has a health check; it
builds without BuildKit (no parser directive that fetches a frontend, no
BuildKit-only flags) and keeps the embedded model store on a volume, as the
README's ``docker run`` names it; it installs the project with the same extra
and starts it with the same entry script as ``scripts/serve.sh`` (which the
service tests exercise), which installs through ``scripts/venv.sh`` only
when its stamp is stale; the
Dockerfile's dependency step and its Numba warm-up run here as they would in
the build; and Redis, configured as compose configures it, evicts cached
blocks under memory pressure but never a model.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import redis
import yaml
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import RedisServer, make_settings
from tests.service.helpers import batch

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVE = ROOT / "scripts" / "serve.sh"
TEST = ROOT / "scripts" / "test.sh"
VENV = ROOT / "scripts" / "venv.sh"
ENTRY = ROOT / "scripts" / "run-server.sh"
WARM = ROOT / "scripts" / "warm_numba_cache.py"

SETTINGS_ENV = {f"RNTK_{name.upper()}" for name in Settings.model_fields}
NOT_FOR_COMPOSE = {
    "RNTK_CACHE_MAX_BYTES": "budget of the in-process cache, which is not used with Redis",
    "RNTK_DATA_DIR": "directory of the embedded model store, set by the image and not used with Redis",
}


# Parsing ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword, its argument text, and its stage (0 = first FROM)."""

    keyword: str
    args: str
    stage: int


def dockerfile_path() -> Path:
    build = compose()["services"]["rntk"]["build"]
    return ROOT / build["context"] / build["dockerfile"]


def instructions(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined, comments dropped."""
    out: list[Instruction] = []
    stage, pending = -1, ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        out.append(Instruction(keyword, args.strip(), stage))
    return out


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def final_stage(steps: list[Instruction]) -> list[Instruction]:
    last = max(s.stage for s in steps)
    return [s for s in steps if s.stage == last]


def launcher_env() -> set[str]:
    """The RNTK_* variables the entry script reads itself (host, port, workers)."""
    return set(re.findall(r"\$\{(RNTK_[A-Z_]+)", ENTRY.read_text()))


def pip_installs(text: str) -> list[str]:
    """The project requirement (``.[extra]``, ``-e .[extra]``) of each ``pip install`` of the project."""
    found = []
    for match in re.finditer(r"pip install ([^\n&;]*)", text):
        for word in shlex.split(match.group(1)):
            if word.startswith("."):
                found.append(word)
    return found


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (Moby's rule: the last match wins,
    and a pattern that matches a parent directory matches everything below it)."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]")
        parts = path.strip("/").split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(re.fullmatch(regex, p) for p in prefixes):
            excluded = not negate
    return excluded


# docker-compose.yml -----------------------------------------------------------------

def test_compose_runs_the_service_after_a_healthy_redis():
    services = compose()["services"]
    assert set(services) == {"rntk", "redis"}
    rntk, red = services["rntk"], services["redis"]
    assert rntk["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(rntk["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(red["healthcheck"]["test"])
    for service in (rntk, red):
        assert service["healthcheck"]["interval"] and service["healthcheck"]["retries"] >= 1
    assert rntk["environment"]["RNTK_REDIS_URL"] == "redis://redis:6379/0"
    Settings(redis_url=rntk["environment"]["RNTK_REDIS_URL"])  # a URL the service accepts


def test_redis_keeps_models_on_a_volume_and_may_evict_only_keys_with_a_ttl():
    spec = compose()
    red = spec["services"]["redis"]
    assert red["image"].startswith("redis:7")
    command = red["command"]
    options = dict(zip(command[1::2], command[2::2]))
    assert command[0] == "redis-server" and options["--appendonly"] == "yes"
    assert options["--maxmemory"].startswith("${REDIS_MAXMEMORY")
    assert options["--maxmemory-policy"].startswith("volatile-")
    volume, _, target = red["volumes"][0].partition(":")
    assert target == "/data" and volume in spec["volumes"], "Redis's data must be on a named volume"


def test_every_path_compose_names_exists_and_reaches_the_build_context():
    build = compose()["services"]["rntk"]["build"]
    context = ROOT / build["context"]
    assert context.is_dir() and dockerfile_path().is_file()
    copies = [s for s in instructions(dockerfile_path()) if s.keyword == "COPY" and "--from=" not in s.args]
    assert copies
    for step in copies:
        *sources, _ = shlex.split(step.args)
        for source in sources:
            assert (context / source).exists(), f"COPY {source}: no such path in the build context"
            assert not dockerignore_excludes(source), f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_the_context_to_what_the_image_needs():
    for kept in ("pyproject.toml", "rntk_core/_engine.py", "service/app.py", "scripts/run-server.sh"):
        assert not dockerignore_excludes(kept), kept
    for dropped in (".venv/bin/python", ".git/HEAD", "data", "tests/service/conftest.py", "experiments",
                    "var/rntk/models", "rntk_core/__pycache__/_engine.cpython-311.pyc", "service/stray.pyc", "scripts/test.sh"):
        assert dockerignore_excludes(dropped), dropped


def test_the_service_environment_names_only_real_settings_and_exposes_them_all():
    env = compose()["services"]["rntk"]["environment"]
    named = {k for k in env if k.startswith("RNTK_")}
    unknown = named - SETTINGS_ENV - launcher_env()
    assert not unknown, f"not settings of service/settings.py nor read by {ENTRY.name}: {sorted(unknown)}"
    missing = SETTINGS_ENV - named - set(NOT_FOR_COMPOSE)
    assert not missing, f"settings docker-compose.yml does not pass through: {sorted(missing)}"
    assert env.get("RNTK_CACHE_TTL_S") is None and env.get("RNTK_MODEL_TTL_S") is None, \
        "blocks need their TTL and models none, or Redis's volatile eviction policy stops working"
    assert "RNTK_PORT" not in env and "RNTK_HOST" not in env, "the image fixes where it listens inside"


def test_the_published_port_is_the_port_the_image_listens_on_and_checks():
    rntk = compose()["services"]["rntk"]
    (mapping,) = rntk["ports"]
    container_port = mapping.rsplit(":", 1)[1]
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(s.args for s in final_stage(instructions(dockerfile_path()))
                                                      if s.keyword == "ENV")))
    assert env["RNTK_PORT"] == container_port and env["RNTK_HOST"] == "0.0.0.0"
    assert f"127.0.0.1:{container_port}/healthz" in " ".join(rntk["healthcheck"]["test"])
    assert mapping.startswith("${RNTK_PORT:-8000}:")


def test_every_variable_compose_reads_is_documented_in_its_header():
    text = COMPOSE_FILE.read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    interpolated = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", body))
    assert interpolated, "compose reads no variables?"
    undocumented = {v for v in interpolated if not re.search(rf"^#\s+{v}\s", header, re.M)}
    assert not undocumented, f"document these in the header of docker-compose.yml: {sorted(undocumented)}"


# docker/Dockerfile ------------------------------------------------------------------

def test_the_image_is_multi_stage_slim_and_runs_as_a_non_root_user():
    steps = instructions(dockerfile_path())
    froms = [s.args for s in steps if s.keyword == "FROM"]
    assert len(froms) >= 2 and all(re.search(r"\sAS\s+\w+$", f, re.I) for f in froms)
    assert all(f.startswith("python:${PYTHON_VERSION}-slim") for f in froms)
    version = re.search(r"^ARG PYTHON_VERSION=(\d+)\.(\d+)$", dockerfile_path().read_text(), re.M)
    minimum = re.search(r">=\s*(\d+)\.(\d+)", tomllib.loads((ROOT / "pyproject.toml").read_text())
                        ["project"]["requires-python"])
    assert version and tuple(map(int, version.groups())) >= tuple(map(int, minimum.groups()))
    final = final_stage(steps)
    users = [s.args for s in final if s.keyword == "USER"]
    assert users and users[-1] not in ("root", "0") and not users[-1].startswith(("root:", "0:"))
    keywords = [s.keyword for s in final]
    assert keywords.index("USER") < keywords.index("CMD")
    copied = " ".join(s.args for s in final if s.keyword == "COPY")
    assert "tests" not in copied and "--from=build /opt/venv" in copied
    assert "[dev]" not in dockerfile_path().read_text(), "the image installs runtime dependencies only"


LEGACY_FLAGS = {"FROM": {"--platform"}, "COPY": {"--from", "--chown"}, "ADD": {"--chown"},
                "HEALTHCHECK": {"--interval", "--timeout", "--start-period", "--retries", "--start-interval"}}
"""The flags each instruction takes without BuildKit (RUN --mount, COPY --link / --chmod ... need it)."""


def test_the_dockerfile_builds_without_fetching_a_frontend_or_needing_buildkit():
    first = dockerfile_path().read_text().splitlines()[0]
    assert not re.match(r"#\s*\w+\s*=", first), "a parser directive such as # syntax= makes BuildKit fetch a frontend"
    for step in instructions(dockerfile_path()):
        words = step.args.split()
        flags = {w.split("=", 1)[0] for w in itertools.takewhile(lambda w: w.startswith("--"), words)}
        assert flags <= LEGACY_FLAGS.get(step.keyword, set()), f"{step.keyword} {sorted(flags)} needs BuildKit"
        assert not re.search(r"<<-?\s*[\"']?\w", step.args), f"{step.keyword}: a heredoc needs BuildKit"


def test_the_embedded_model_store_is_a_volume_named_in_the_readme_run_example():
    final = final_stage(instructions(dockerfile_path()))
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(s.args for s in final if s.keyword == "ENV")))
    data_dir = env["RNTK_DATA_DIR"]
    volumes = [s for s in final if s.keyword == "VOLUME"]
    declared = {v for s in volumes for v in (json.loads(s.args) if s.args.startswith("[") else s.args.split())}
    assert data_dir in declared, f"RNTK_DATA_DIR={data_dir} is lost on docker rm unless it is a VOLUME"
    chown = next(i for i, s in enumerate(final) if s.keyword == "RUN" and "chown" in s.args and data_dir in s.args)
    assert chown < final.index(volumes[0]), "create and chown the directory before declaring the volume"
    readme = (ROOT / "README.md").read_text()
    runs = re.findall(r"^docker run .*$", readme, re.M)
    assert runs and all(re.search(rf"\s-v\s+\S+:{re.escape(data_dir)}(\s|$)", run) for run in runs), runs
    assert re.search(rf"docker run .*-v \S+:{re.escape(data_dir)}", dockerfile_path().read_text())


def test_the_image_checks_healthz():
    (check,) = [s.args for s in final_stage(instructions(dockerfile_path())) if s.keyword == "HEALTHCHECK"]
    assert "CMD" in check and "/healthz" in check


def test_the_image_installs_and_starts_the_service_like_serve_sh():
    serve = SERVE.read_text()
    dockerfile = dockerfile_path().read_text()
    assert re.search(r"^exec scripts/run-server\.sh\b", serve, re.M), "serve.sh must start run-server.sh"
    assert os.access(ENTRY, os.X_OK) and os.access(SERVE, os.X_OK)
    (cmd,) = [s.args for s in final_stage(instructions(dockerfile_path())) if s.keyword in ("CMD", "ENTRYPOINT")]
    assert cmd.endswith('scripts/run-server.sh"]'), "the image must start through scripts/run-server.sh"
    serve_extras = {f"[{extra}]" for extra in re.findall(r"^ensure_venv (\w+)$", serve, re.M)}
    image_extras = {req.rpartition(".")[2] for req in pip_installs(dockerfile)}
    assert serve_extras == image_extras == {"[service]"}
    assert pip_installs(VENV.read_text()) == [".[$extra]"] and '-e ".[$extra]"' in VENV.read_text()
    assert "uvicorn service.app:app" in ENTRY.read_text()
    assert launcher_env() == {"RNTK_HOST", "RNTK_PORT", "RNTK_WORKERS"}


def test_dependencies_install_in_their_own_layer_before_the_code_is_copied():
    steps = instructions(dockerfile_path())
    build = [s for s in steps if s.stage == 0]
    (export,) = [s for s in build if "requirements.txt" in s.args and s.keyword == "RUN"]
    code_copies = [i for i, s in enumerate(build) if s.keyword == "COPY" and re.search(r"\b(rntk_core|service)\b", s.args)]
    assert build.index(export) < min(code_copies)
    command = export.args.split(" > requirements.txt")[0]
    listed = subprocess.run(["sh", "-c", command.replace("python ", f"{shlex.quote(sys.executable)} ", 1)],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert listed == project["dependencies"] + project["optional-dependencies"]["service"]


def test_numba_compiles_at_build_time_as_the_serving_user_into_the_runtime_cache_dir():
    final = final_stage(instructions(dockerfile_path()))
    env = " ".join(s.args for s in final if s.keyword == "ENV")
    cache_dir = re.search(r"NUMBA_CACHE_DIR=(\S+)", env).group(1)
    keywords = [s.keyword for s in final]
    user_at = keywords.index("USER")
    (warm,) = [i for i, s in enumerate(final) if s.keyword == "RUN" and WARM.name in s.args]
    assert warm > user_at, "warm the cache as the user that will read and refresh it"
    assert any(cache_dir in s.args and "chown" in s.args for s in final[:user_at] if s.keyword == "RUN")


# scripts/serve.sh and scripts/test.sh -------------------------------------------------

def helper(project: Path, command: str) -> subprocess.CompletedProcess:
    """`command` run by bash in `project` after sourcing scripts/venv.sh, as the scripts do."""
    return subprocess.run(["bash", "-c", f"set -euo pipefail; source {shlex.quote(str(VENV))}; {command}"],
                          cwd=project, capture_output=True, text=True, timeout=60)


def test_serve_and_test_install_through_one_helper():
    for script, extra in ((SERVE, "service"), (TEST, "dev")):
        text = script.read_text()
        assert re.search(r"^source scripts/venv\.sh$", text, re.M), script.name
        assert re.findall(r"^ensure_venv (\w+)$", text, re.M) == [extra], script.name
        assert "pip install" not in text, f"{script.name} installs through scripts/venv.sh only"
    assert not os.access(VENV, os.X_OK), "scripts/venv.sh is sourced, not run"


def test_an_install_is_skipped_until_pyproject_or_the_interpreter_changes(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "example"\nversion = "1"\n')
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    current = lambda extra: helper(tmp_path, f"venv_is_current {extra}").returncode == 0  # noqa: E731
    assert not current("dev") and not current("service")  # a fresh environment: install

    assert helper(tmp_path, "venv_stamp dev > .venv/.rntk-install-dev").returncode == 0  # as an install leaves it
    stamp = (tmp_path / ".venv" / ".rntk-install-dev").read_text()
    version = subprocess.run([str(tmp_path / ".venv" / "bin" / "python"), "-c", "import platform; "
                              "print(platform.python_version())"], capture_output=True, text=True).stdout.strip()
    assert f"pyproject={hashlib.sha256(pyproject.read_bytes()).hexdigest()} " in stamp
    assert f"python={version} " in stamp
    assert current("dev") and not current("service")  # each extra has its own stamp
    skipped = helper(tmp_path, "ensure_venv dev")
    assert skipped.returncode == 0 and skipped.stderr == "" and skipped.stdout == ""
    assert (tmp_path / ".venv" / ".rntk-install-dev").read_text() == stamp

    (tmp_path / ".venv" / ".rntk-install-dev").write_text(stamp.replace(f"python={version} ", "python=3.10.0 "))
    assert not current("dev")  # another interpreter: install again
    (tmp_path / ".venv" / ".rntk-install-dev").write_text(stamp)
    pyproject.write_text(pyproject.read_text() + 'dependencies = ["numpy"]\n')
    assert not current("dev")  # pyproject.toml changed: install again
    (tmp_path / ".venv" / "bin" / "python").unlink()
    assert not current("dev")


# What the build and the stack run, run here -------------------------------------------

def test_the_warm_up_script_fills_a_cache_that_the_service_then_loads(tmp_path):
    # As in the image: no Numba target chosen beforehand (rntk_core chooses the vector width itself).
    inherited = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME")}
    env = {**inherited, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    warm = subprocess.run([sys.executable, str(WARM)], env=env, capture_output=True, text=True, timeout=300)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "_engine.pair_tiles: 1 signature(s), 1 loaded from the cache, 0 compiled" in warm.stdout
    startup = (
        "from service.container import Services; from service.settings import Settings; import rntk_core._engine as e\n"
        f"Services.build(Settings(data_dir={str(tmp_path / 'data')!r})).warm_up()\n"
        "print(sum(sum(k.stats.cache_misses.values()) for k in (e.self_pass, e.pair_tiles)),"
        " sum(sum(k.stats.cache_hits.values()) for k in (e.self_pass, e.pair_tiles)))"
    )
    app = subprocess.run([sys.executable, "-c", startup], env=env, capture_output=True, text=True, timeout=120)
    assert app.returncode == 0, app.stderr
    assert app.stdout.split() == ["0", "2"], "the app's start-up warm-up compiled instead of loading the cache"


def test_models_outlive_a_restart_of_redis_and_the_service_through_the_append_only_file(tmp_path):
    command = compose()["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    server = RedisServer(tmp_path / "redis", persist=True)  # append-only file, no RDB snapshots
    server.start()
    try:
        settings = make_settings(tmp_path, redis_url=server.url)
        X = batch(6, seed=97)
        with TestClient(create_app(settings)) as client:
            model_id = client.post("/krr/fit", json={"X": X, "y": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                                                     "ridge": 0.1}).json()["model_id"]
            before = client.post("/krr/predict", json={"model_id": model_id, "X": X[:2]}).json()
        r = redis.Redis.from_url(server.url)
        r.shutdown(nosave=True)  # flushes the append-only file, as `docker compose stop` does
        r.close()
        server.proc.wait(timeout=10)
        server.proc = None
        server.start()
        with TestClient(create_app(settings)) as client:
            after = client.post("/krr/predict", json={"model_id": model_id, "X": X[:2]}).json()
        assert after["predictions"] == before["predictions"]
    finally:
        server.kill()


@pytest.fixture
def pressured_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis configured as compose configures it (eviction policy), with a tiny memory budget."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    command = compose()["services"]["redis"]["command"]
    policy = command[command.index("--maxmemory-policy") + 1]
    r = redis.Redis.from_url(server.url)
    r.config_set("maxmemory-policy", policy)
    r.close()
    yield server
    server.kill()


def test_under_memory_pressure_redis_evicts_cached_blocks_and_never_a_model(tmp_path, pressured_redis):
    settings = make_settings(tmp_path, redis_url=pressured_redis.url, redis_prefix=f"t{uuid.uuid4().hex[:8]}:",
                             block_size=64)
    assert settings.model_ttl_s == 0 and settings.cache_ttl_s > 0  # the defaults compose leaves in place
    r = redis.Redis.from_url(pressured_redis.url)
    with TestClient(create_app(settings)) as client:
        X = batch(20, seed=95)
        y = [float(np.sum(s)) for s in X]
        models = [client.post("/krr/fit", json={"X": X, "y": y, "ridge": 0.1 * (i + 1)}).json()["model_id"]
                  for i in range(3)]
        r.config_set("maxmemory", int(r.info("memory")["used_memory"]) + 2 * 1024 * 1024)
        written = 0
        for seed in range(4):  # about 9 MB of blocks into a 2 MB budget
            answer = client.post("/gram", json={"X": batch(512, seed=100 + seed, t_min=2, t_max=6)},
                                 headers={"Accept": "application/x-npy"})
            assert answer.status_code == 200
            written += int(answer.headers["x-rntk-cache-misses"])
        models.append(client.post("/krr/fit", json={"X": X, "y": y, "ridge": 1.0}).json()["model_id"])
        assert r.info("stats")["evicted_keys"] > 0
        assert len(list(r.scan_iter(f"{settings.redis_prefix}block:*", count=1000))) < written
        for model_id in models:
            assert r.ttl(f"{settings.redis_prefix}model:{model_id}") == -1
            predicted = client.post("/krr/predict", json={"model_id": model_id, "X": X[:2]})
            assert predicted.status_code == 200, predicted.text
    r.close()

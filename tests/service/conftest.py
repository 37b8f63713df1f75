"""Fixtures of the service tests: apps on the test client, a real redis-server, a real uvicorn.

Redis is always a real ``redis-server`` that these fixtures start on a free
port (never 6379) without persistence, and stop at teardown. A missing binary
fails the run with instructions; it never skips.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator, Optional

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_binary() -> str:
    """Path of redis-server, or a loud failure explaining how to get it."""
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if path is None:
        pytest.fail(
            "redis-server not found on PATH: the service tests need a real Redis "
            "(Debian/Ubuntu: apt-get install redis-server). They never skip and never fake it.",
            pytrace=False,
        )
    return path


class RedisServer:
    """A redis-server child process on a free port; `kill` and `start` again on the same port."""

    def __init__(self, workdir: Path, persist: bool = False) -> None:
        self.binary = redis_binary()
        self.port = free_port()
        self.workdir = workdir
        self.persist = persist
        self.proc: Optional[subprocess.Popen] = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.persist else "no", "--dir", str(self.workdir),
                "--daemonize", "no", "--loglevel", "warning"]
        log = open(self.workdir / "redis.log", "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.ping():
                return
            time.sleep(0.02)
        output = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
        self.kill()
        pytest.fail(f"redis-server did not start on port {self.port}:\n{output}", pytrace=False)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """Stop it abruptly (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One Redis for the session (tests keep apart through key prefixes)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, which the test may kill and restart."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


def make_settings(tmp_path: Path, **overrides) -> Settings:
    """Test settings: models under tmp_path, no warm-up wait, fast Redis recovery."""
    values = dict(data_dir=tmp_path / "data", warmup=False, redis_cooldown_s=0.05, redis_cooldown_max_s=0.2,
                  redis_connect_timeout_s=0.5, redis_socket_timeout_s=5.0)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with its embedded backends (in-process LRU, model directory)."""
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def redis_client(tmp_path: Path, redis_server: RedisServer) -> Iterator[TestClient]:
    """The app backed by the session's Redis, under a key prefix of its own; without kept answers for
    exact repeats (`service.repeats.cache`), so that every Gram request goes to the Redis block cache."""
    s = make_settings(tmp_path, redis_url=redis_server.url, redis_prefix=f"t{uuid.uuid4().hex[:12]}:",
                      repeat_cache_max_bytes=0)
    with TestClient(create_app(s)) as c:
        yield c


class ServiceProcess:
    """``uvicorn service.app:app`` in a child process on a free port."""

    def __init__(self, env: dict[str, str], logfile: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env}
        self.logfile = logfile
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """How the service is launched."""
        return [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1",
                "--port", str(self.port), "--log-level", "warning"]

    def launch_env(self) -> dict[str, str]:
        """The environment it is launched with."""
        return self.env

    def start(self, timeout: float = 90.0) -> None:
        """Launch it and wait until ``/readyz`` answers 200; fail the test with its log otherwise."""
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.command(), cwd=REPO_ROOT, env=self.launch_env(),
                                     stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"{self.command()[-3:]!r}: the service did not become ready:\n"
                    f"{self.logfile.read_text(errors='replace')[-3000:]}", pytrace=False)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def start_service(tmp_path: Path, own_redis: RedisServer):
    """Start ``uvicorn service.app:app`` with RNTK_REDIS_URL on this test's own Redis (plus `env`)."""
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        proc = ServiceProcess(
            {"RNTK_REDIS_URL": own_redis.url, "RNTK_DATA_DIR": str(tmp_path / "data"),
             "RNTK_REDIS_COOLDOWN_S": "0.05", "RNTK_REDIS_COOLDOWN_MAX_S": "0.2", **env},
            tmp_path / f"uvicorn-{len(started)}.log",
        )
        started.append(proc)
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def service_process(start_service, own_redis: RedisServer) -> tuple[ServiceProcess, RedisServer]:
    """A real uvicorn on a real Redis, with blocks of 4 sequences so small batches span several."""
    return start_service(RNTK_BLOCK_SIZE="4"), own_redis

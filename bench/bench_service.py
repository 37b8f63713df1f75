"""End-to-end benchmark of ``POST /gram`` over HTTP, beside the core's own compute time.

One run measures, side by side (the machines are shared and noisy, so each
figure is the best and the median of several repetitions):

- the core: ``rntk_core.gram(X)`` for N sequences of length T in this process;
- the service, cold: ``POST /gram`` to a real ``uvicorn service.app:app`` with
  an empty cache (each repetition uses slightly different parameters, so
  nothing is reused), answered as JSON and as ``.npy``;
- the service, cached: the identical request again, served from the block cache.

Goals (printed with the figures): with npy the cold service adds at most 25%
to the core's time; a cached repeat is at least 20x faster than the cold call.
Request bodies are encoded once before timing (a client's own cost); the
timings include sending them, the server's work, and receiving and decoding
the answer. The client is the standard library's `http.client` on one
keep-alive connection: httpx alone adds about 2.5 ms to moving the 3 MB of a
cached N = 500 exchange, which would be charged to the service otherwise.

Run from the repository root::

    .venv/bin/python bench/bench_service.py            # N = 500, T = 100, in-process LRU cache
    .venv/bin/python bench/bench_service.py --redis    # the same with a redis-server it starts itself
    .venv/bin/python bench/bench_service.py --quick    # smaller, a smoke run
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx
import numpy as np
import orjson

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from rntk_core import RNTKParams, gram  # noqa: E402

GOAL_NPY_OVERHEAD = 1.25
GOAL_CACHE_SPEEDUP = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} did not start within {timeout:.0f} s")


class Answer:
    """Body and (lower-case) headers of one answer."""

    def __init__(self, content: bytes, headers: dict[str, str]) -> None:
        self.content = content
        self.headers = headers

    def json(self) -> dict:
        return orjson.loads(self.content)


class Timing:
    """Repeated wall-clock times of one measurement."""

    def __init__(self, times: list[float]) -> None:
        self.times = times

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def __str__(self) -> str:
        return f"best {self.best * 1e3:8.1f} ms   median {self.median * 1e3:8.1f} ms   (n={len(self.times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--t", type=int, default=100)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--redis", action="store_true", help="use a redis-server (started here) as the cache")
    parser.add_argument("--quick", action="store_true", help="N = 200, T = 50, 3 repetitions")
    args = parser.parse_args()
    if args.quick:
        args.n, args.t, args.reps = 200, 50, 3

    tmp = Path(tempfile.mkdtemp(prefix="rntk-bench-"))
    children: list[subprocess.Popen] = []
    env = {**os.environ, "RNTK_DATA_DIR": str(tmp / "data")}
    try:
        if args.redis:
            binary = shutil.which("redis-server") or "/usr/bin/redis-server"
            rport = free_port()
            children.append(subprocess.Popen(
                [binary, "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
            env["RNTK_REDIS_URL"] = f"redis://127.0.0.1:{rport}/0"
            import redis

            wait_until(lambda: redis.Redis(port=rport).ping(), "redis-server")
        else:
            env.pop("RNTK_REDIS_URL", None)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(tmp / "uvicorn.log", "wb")
        children.append(subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_until(lambda: httpx.get(url + "/readyz").status_code == 200, "the service")
        run(url, args)
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def run(url: str, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, args.t))
    Xl = X.tolist()
    seqs = [row for row in X]
    pair_steps = args.n * (args.n + 1) // 2 * args.t

    def body(k: int) -> bytes:  # a different σw per repetition: a cold cache every time
        return orjson.dumps({"X": Xl, "params": {"sigma_w": 1.35 + 0.001 * k}, "output": "ntk"})

    npy_headers = {"Accept": "application/x-npy", "Content-Type": "application/json"}
    json_headers = {"Content-Type": "application/json"}

    def core(k: int) -> float:
        p = RNTKParams(sigma_w=1.35 + 0.001 * k)
        started = time.perf_counter()
        gram(seqs, params=p, output="ntk")
        return time.perf_counter() - started

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    try:
        def post(content: bytes, headers: dict, decode: Callable[[bytes], object]) -> tuple[float, Answer]:
            started = time.perf_counter()
            conn.request("POST", "/gram", body=content, headers=headers)
            r = conn.getresponse()
            data = r.read()
            decode(data)
            elapsed = time.perf_counter() - started
            if r.status != 200:
                raise SystemExit(f"/gram answered {r.status}: {data[:500]!r}")
            return elapsed, Answer(data, {k.lower(): v for k, v in r.getheaders()})

        load_npy = lambda b: np.load(io.BytesIO(b), allow_pickle=False)  # noqa: E731
        core(10_000)  # JIT loaded, threads spun up
        post(body(10_000), npy_headers, load_npy)  # the service warmed up the same way
        post(body(10_000), json_headers, orjson.loads)

        core_t, cold_npy, cold_json, hot_npy, hot_json = [], [], [], [], []
        bodies = {}
        for k in range(args.reps):  # interleaved, so load on the machine hits every figure alike
            core_t.append(core(k))
            bodies[k] = body(k)
            t, r = post(bodies[k], npy_headers, load_npy)
            assert r.headers["x-rntk-cache-misses"] != "0"
            cold_npy.append(t)
            t, r = post(body(1000 + k), json_headers, orjson.loads)
            assert r.json()["cache"]["hits"] == 0
            cold_json.append(t)
            t, r = post(bodies[k], npy_headers, load_npy)
            assert r.headers["x-rntk-cache-misses"] == "0"
            hot_npy.append(t)
            t, r = post(bodies[k], json_headers, orjson.loads)
            assert r.json()["cache"]["misses"] == 0
            hot_json.append(t)
        check = load_npy(post(bodies[0], npy_headers, lambda b: None)[1].content)
        reference = gram(seqs, params=RNTKParams(sigma_w=1.35), output="ntk")
    finally:
        conn.close()

    core_, cnpy, cjson, hnpy, hjson = map(Timing, (core_t, cold_npy, cold_json, hot_npy, hot_json))
    mode = "Redis" if args.redis else "in-process LRU"
    print(f"POST /gram, N = {args.n}, T = {args.t}, m = 1, output ntk ({args.n}x{args.n}), cache: {mode}")
    print(f"  request body {len(bodies[0]) / 1e6:.2f} MB JSON; answer {args.n * args.n * 8 / 1e6:.2f} MB as npy")
    print(f"  core rntk_core.gram         {core_}   {pair_steps / core_.best / 1e6:6.1f} M pair-steps/s")
    print(f"  service cold, npy           {cnpy}")
    print(f"  service cold, JSON          {cjson}")
    print(f"  service cached, npy         {hnpy}")
    print(f"  service cached, JSON        {hjson}")
    over_best, over_med = cnpy.best / core_.best, cnpy.median / core_.median
    speed_best, speed_med = cnpy.best / hnpy.best, cnpy.median / hnpy.median
    ok = lambda good: "MET" if good else "NOT MET"  # noqa: E731
    print(f"  cold npy / core             {over_best:5.2f}x best, {over_med:5.2f}x median   "
          f"(goal <= {GOAL_NPY_OVERHEAD}x: {ok(over_best <= GOAL_NPY_OVERHEAD)})")
    print(f"  cold JSON / core            {cjson.best / core_.best:5.2f}x best, "
          f"{cjson.median / core_.median:5.2f}x median")
    print(f"  cold npy / cached npy       {speed_best:5.1f}x best, {speed_med:5.1f}x median   "
          f"(goal >= {GOAL_CACHE_SPEEDUP:.0f}x: {ok(speed_best >= GOAL_CACHE_SPEEDUP)})")
    print(f"  cold JSON / cached JSON     {cjson.best / hjson.best:5.1f}x best, "
          f"{cjson.median / hjson.median:5.1f}x median")
    diff = float(np.max(np.abs(check - reference)) / np.max(np.abs(reference)))
    print(f"  largest relative difference service vs core: {diff:.1e}")


if __name__ == "__main__":
    main()

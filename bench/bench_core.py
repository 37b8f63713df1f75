"""Benchmark of the Numba RNTK core against the dense published algorithm.

Measures, side by side in one run (the machines this runs on are shared and
noisy, so each timing is repeated and the best and median are reported), the
performance goals of SPEC §2:

- symmetric Gram of N equal-length sequences: the dense NumPy baseline
  (``bench/dense_baseline.py``) versus ``rntk_core.gram``, their ratio
  (goal: the core is at least 20× faster) and throughput in pair-steps/s,
  plus the largest difference between the two results as a sanity check;
- unequal lengths: the core's throughput on ragged sequences against its
  equal-length throughput (goal: within 1.5×);
- thread scaling: the core on 1 thread versus 2 (goal: at least 1.7×);
- JIT cache: a fresh Python process imports ``rntk_core`` and times its first
  ``gram`` call, which should load compiled code from the on-disk cache rather
  than compile again (goal: well under a second).

A *pair-step* is one pair of sequences advanced by one aligned time step in one
layer (SPEC §2): N(N+1)/2·T·L for a symmetric Gram of equal lengths, and
Σ_{i≤j} min(T_i, T_j)·L for ragged ones.

Run from the repository root::

    .venv/bin/python bench/bench_core.py          # full sizes (N = 1000, T = 150)
    .venv/bin/python bench/bench_core.py --quick  # small sizes, a smoke run

The dense baseline runs single-threaded NumPy ufuncs (as the published code
does on a CPU); the core uses every Numba thread. The 1-thread core figure is
printed too, for a per-core comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dense_baseline import dense_gram  # noqa: E402
from timing import Timing  # noqa: E402

GOAL_SPEEDUP = 20.0
GOAL_RAGGED_SLOWDOWN = 1.5
GOAL_THREAD_SCALING = 1.7
GOAL_FRESH_FIRST_CALL_S = 1.0
GOAL_MAX_REL_DIFF = 1e-6


@dataclass
class Sizes:
    """Problem sizes of one benchmark run."""

    n: int
    t: int
    t_min: int
    t_max: int
    jit_n: int
    jit_t: int


FULL = Sizes(n=1000, t=150, t_min=50, t_max=250, jit_n=20, jit_t=30)
QUICK = Sizes(n=200, t=50, t_min=20, t_max=80, jit_n=10, jit_t=20)


@dataclass
class Goal:
    """One line of the summary table."""

    name: str
    target: str
    measured: str
    passed: Optional[bool]

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "MISS")


def time_call(fn: Callable[[], Any], repeat: int) -> Timing:
    """Run ``fn`` ``repeat`` times and keep each wall-clock time and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return Timing(times, result)


def time_interleaved(
    contenders: dict[str, Callable[[], Any]], rounds: int, calls: Optional[dict[str, int]] = None
) -> dict[str, Timing]:
    """Time several calls in alternation: ``rounds`` rounds, each running every contender.

    Alternating spreads a load spike from other users of a shared machine
    over every contender instead of penalising whichever ran during it.
    ``calls`` gives how many timed calls a contender makes per round (default 1),
    so a fast contender can be sampled more often than a slow one.
    """
    calls = calls or {}
    timings = {name: Timing([]) for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            for _ in range(calls.get(name, 1)):
                start = time.perf_counter()
                result = fn()
                timings[name].times.append(time.perf_counter() - start)
                timings[name].result = result
    return timings


def fmt_rate(pair_steps: float, seconds: float) -> str:
    return f"{pair_steps / seconds / 1e6:9.1f} M pair-steps/s"


def fmt_timing(label: str, timing: Timing, pair_steps: float) -> str:
    runs = ", ".join(f"{t:.4f}" for t in timing.times)
    return (
        f"  {label:<28} best {timing.best:8.4f} s  median {timing.median:8.4f} s  "
        f"{fmt_rate(pair_steps, timing.best)}   (runs: {runs})"
    )


def rel_diff(a: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """Largest elementwise relative difference (floored at 1e-12·max|ref|) and normwise one."""
    scale = float(np.max(np.abs(ref)))
    floor = max(scale * 1e-12, np.finfo(float).tiny)
    elementwise = float(np.max(np.abs(a - ref) / np.maximum(np.abs(ref), floor)))
    normwise = float(np.max(np.abs(a - ref)) / max(scale, np.finfo(float).tiny))
    return elementwise, normwise


def machine_header() -> None:
    import numba

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    print("RNTK core benchmark")
    print(f"  python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}")
    print(f"  machine: {platform.machine()}, os.cpu_count() = {os.cpu_count()}, usable cores = {affinity}")
    print(
        f"  numba: NUMBA_NUM_THREADS = {numba.config.NUMBA_NUM_THREADS}, "
        f"requested threading layer = {numba.config.THREADING_LAYER!r}"
    )
    wide = os.environ.get("NUMBA_CPU_FEATURES", "").endswith(",-prefer-256-bit")
    print(f"  vectors: {'512-bit (AVX-512, chosen by rntk_core)' if wide else 'Numba default width'}")


def threading_layer() -> str:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        return "(no parallel function has run)"


def import_core() -> Optional[Any]:
    try:
        import rntk_core
    except ImportError as exc:
        print(f"\n  rntk_core is not importable ({exc}); core figures are skipped.")
        return None
    if not (hasattr(rntk_core, "gram") and hasattr(rntk_core, "RNTKParams")):
        print("\n  rntk_core does not export gram and RNTKParams yet; core figures are skipped.")
        return None
    return rntk_core


def core_gram(core: Any, X: Any, params: Any, both: bool) -> Any:
    """Call ``rntk_core.gram`` on a symmetric batch, returning (ntk, nngp) when ``both``."""
    if both:
        return core.gram(X, params=params, output="both")
    return core.gram(X, params=params)


FRESH_PROCESS_SCRIPT = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import rntk_core
t2 = time.perf_counter()
n, T = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
X = rng.standard_normal((n, T))
p = rntk_core.RNTKParams()
t3 = time.perf_counter()
rntk_core.gram(X, params=p)
t4 = time.perf_counter()
rntk_core.gram(X, params=p)
t5 = time.perf_counter()
ragged = [rng.standard_normal((int(k), 2)) for k in rng.integers(T // 2, 2 * T, n)]
q = rntk_core.RNTKParams(activation="erf", n_layers=2, sigma_h=0.5)
t6 = time.perf_counter()
rntk_core.gram(ragged, params=q)
t7 = time.perf_counter()
rntk_core.gram(ragged, params=q)
t8 = time.perf_counter()
import numba
try:
    layer = numba.threading_layer()
except ValueError:
    layer = None
print(json.dumps(dict(import_numpy=t1 - t0, import_core=t2 - t1, first=t4 - t3, warm=t5 - t4,
                      first_other=t7 - t6, warm_other=t8 - t7, layer=layer)))
"""


def fresh_process(sizes: Sizes) -> dict[str, Any]:
    """Time import and first ``gram`` calls in a new interpreter; return its figures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_SCRIPT, str(sizes.jit_n), str(sizes.jit_t)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"fresh process failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["wall"] = wall
    return figures


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a fast smoke run")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs of the dense baseline and fresh processes (default 3)")
    parser.add_argument("--core-repeat", type=int, default=7,
                        help="timed runs of each core-only measurement (default 7)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random test data")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    repeat = max(1, args.repeat)
    core_repeat = max(1, args.core_repeat)
    rng = np.random.default_rng(args.seed)
    goals: list[Goal] = []

    core = import_core()  # before anything imports Numba: rntk_core chooses the vector width then
    machine_header()
    print(f"  mode: {'quick' if args.quick else 'full'}; {repeat} timed runs with the dense baseline, "
          f"{core_repeat} for core-only figures; runs compared in a ratio alternate; best and median shown")
    print(f"  load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")

    import numba

    default_threads = numba.get_num_threads()
    params = core.RNTKParams(activation="relu", n_layers=1) if core else None

    # 1. Equal lengths: dense baseline versus core.
    n, T = sizes.n, sizes.t
    X = rng.standard_normal((n, T))
    steps_equal = n * (n + 1) // 2 * T
    print(f"\n[1] symmetric Gram, equal lengths: N = {n}, T = {T}, m = 1, L = 1, relu")
    print(f"    pair-steps = N(N+1)/2·T·L = {steps_equal:,}")
    core_equal: Optional[Timing] = None
    both = True
    if core:
        warm = time.perf_counter()
        try:
            core_gram(core, X[:8, :10], params, both=True)
        except (TypeError, ValueError):
            both = False
            core_gram(core, X[:8, :10], params, both=False)
        warm = time.perf_counter() - warm
        print(f"  {'core warm-up (JIT or cache)':<28} {warm:8.3f} s on N = 8, T = 10")
        print(f"  numba threading layer in use: {threading_layer()}, threads = {default_threads}")
        timed = time_interleaved(
            {"dense": lambda: dense_gram(X), "core": lambda: core_gram(core, X, params, both)},
            repeat,
            calls={"core": -(-core_repeat // repeat)},
        )
        dense, core_equal = timed["dense"], timed["core"]
    else:
        dense = time_call(lambda: dense_gram(X), repeat)
    print(fmt_timing("dense NumPy baseline", dense, steps_equal))
    if core and core_equal:
        print(fmt_timing(f"rntk_core.gram ({default_threads} threads)", core_equal, steps_equal))
        speedup = dense.best / core_equal.best
        print(
            f"  speed-up core / dense: {speedup:.1f}× (best vs best), "
            f"{dense.median / core_equal.median:.1f}× (median vs median)"
        )
        goals.append(Goal(f"core vs dense (N={n}, T={T})", f">= {GOAL_SPEEDUP:.0f}x", f"{speedup:.1f}x",
                          speedup >= GOAL_SPEEDUP))

        ntk_d, nngp_d = dense.result
        if both:
            ntk_c, nngp_c = core_equal.result
        else:
            ntk_c, nngp_c = core_equal.result, None
        e_ntk, nw_ntk = rel_diff(np.asarray(ntk_c), ntk_d)
        line = f"  max relative difference, NTK: {e_ntk:.2e} elementwise, {nw_ntk:.2e} normwise"
        worst = e_ntk
        if nngp_c is not None:
            e_nngp, nw_nngp = rel_diff(np.asarray(nngp_c), nngp_d)
            line += f"; NNGP: {e_nngp:.2e} elementwise, {nw_nngp:.2e} normwise"
            worst = max(worst, e_nngp)
        print(line)
        goals.append(Goal("core == dense (sanity)", f"rel diff <= {GOAL_MAX_REL_DIFF:.0e}", f"{worst:.2e}",
                          worst <= GOAL_MAX_REL_DIFF))
    else:
        goals.append(Goal(f"core vs dense (N={n}, T={T})", f">= {GOAL_SPEEDUP:.0f}x", "no rntk_core", None))

    # 2. Unequal lengths.
    lengths = rng.integers(sizes.t_min, sizes.t_max + 1, size=n)
    ragged = [rng.standard_normal(int(k)) for k in lengths]
    steps_ragged = core.pair_steps(lengths.tolist(), None, params) if core else 0
    print(f"\n[2] symmetric Gram, unequal lengths: N = {n}, T uniform in {sizes.t_min}..{sizes.t_max} "
          f"(mean {lengths.mean():.1f}), m = 1, L = 1, relu")
    print(f"    pair-steps = Σ_(i≤j) min(T_i, T_j)·L = {steps_ragged:,}")
    if core and core_equal:
        core_gram(core, ragged[:8], params, both=False)
        timed = time_interleaved(
            {
                "equal": lambda: core_gram(core, X, params, both=False),
                "ragged": lambda: core_gram(core, ragged, params, both=False),
            },
            core_repeat,
        )
        print(fmt_timing(f"equal lengths ({default_threads} threads)", timed["equal"], steps_equal))
        print(fmt_timing(f"unequal lengths ({default_threads} threads)", timed["ragged"], steps_ragged))
        rate_equal = steps_equal / timed["equal"].best
        rate_ragged = steps_ragged / timed["ragged"].best
        slowdown = rate_equal / rate_ragged
        print(f"  equal-length / unequal-length throughput: {slowdown:.2f}×")
        goals.append(Goal("unequal vs equal throughput", f"<= {GOAL_RAGGED_SLOWDOWN}x slower",
                          f"{slowdown:.2f}x", slowdown <= GOAL_RAGGED_SLOWDOWN))
    else:
        goals.append(Goal("unequal vs equal throughput", f"<= {GOAL_RAGGED_SLOWDOWN}x slower",
                          "no rntk_core", None))

    # 3. Thread scaling.
    print(f"\n[3] thread scaling: the equal-length Gram of [1] (N = {n}, T = {T})")
    max_threads = numba.config.NUMBA_NUM_THREADS
    if core and max_threads >= 2:
        def on_threads(k: int) -> Callable[[], Any]:
            def run() -> Any:
                numba.set_num_threads(k)
                return core_gram(core, X, params, both=False)

            return run

        try:
            timed = time_interleaved({"1": on_threads(1), "2": on_threads(2)}, core_repeat)
        finally:
            numba.set_num_threads(default_threads)
        per_thread = {1: timed["1"], 2: timed["2"]}
        for k in (1, 2):
            print(fmt_timing(f"rntk_core.gram, {k} thread{'s' if k > 1 else ''}", per_thread[k], steps_equal))
        scaling = per_thread[1].best / per_thread[2].best
        print(f"  2 threads / 1 thread: {scaling:.2f}×")
        print(f"  per-core comparison, core on 1 thread vs dense: {dense.best / per_thread[1].best:.1f}×")
        goals.append(Goal("2 threads vs 1 thread", f">= {GOAL_THREAD_SCALING}x", f"{scaling:.2f}x",
                          scaling >= GOAL_THREAD_SCALING))
    else:
        why = "no rntk_core" if not core else f"only {max_threads} numba thread(s)"
        print(f"  skipped: {why}")
        goals.append(Goal("2 threads vs 1 thread", f">= {GOAL_THREAD_SCALING}x", why, None))

    # 4. JIT cache in a fresh process.
    print(f"\n[4] fresh process: import rntk_core, first gram call (N = {sizes.jit_n}, T = {sizes.jit_t}, relu), "
          f"then a first call of another kind (erf, L = 2, ragged, m = 2)")
    if core:
        try:
            priming = fresh_process(sizes)
            print(f"  priming run (fills the on-disk cache if anything is missing): first call "
                  f"{priming['first']:.3f} s, other kind {priming['first_other']:.3f} s, process {priming['wall']:.2f} s")
            runs = [fresh_process(sizes) for _ in range(repeat)]
        except RuntimeError as exc:
            print(f"  {exc}")
            runs = []
        if runs:
            for key, label in [
                ("import_numpy", "import numpy"),
                ("import_core", "import rntk_core"),
                ("first", "first gram call"),
                ("warm", "second (warm) gram call"),
                ("first_other", "first call, other kind"),
                ("warm_other", "warm call, other kind"),
                ("wall", "whole process"),
            ]:
                values = [r[key] for r in runs]
                print(f"  {label:<28} median {statistics.median(values):8.4f} s   "
                      f"(runs: {', '.join(f'{v:.4f}' for v in values)})")
            print(f"  threading layer in the fresh process: {runs[0]['layer']}")
            first = statistics.median(r["first"] for r in runs)
            warm_call = statistics.median(r["warm"] for r in runs)
            first_other = statistics.median(r["first_other"] for r in runs)
            print(f"  first / warm call: {first / max(warm_call, 1e-9):.0f}× "
                  f"(the difference, {first - warm_call:.3f} s: loading cached code, thread-pool start-up)")
            goals.append(Goal("fresh process, first gram call", f"< {GOAL_FRESH_FIRST_CALL_S:.0f} s",
                              f"{first:.4f} s", first < GOAL_FRESH_FIRST_CALL_S))
            goals.append(Goal("fresh process, first call other kind", f"< {GOAL_FRESH_FIRST_CALL_S:.0f} s",
                              f"{first_other:.4f} s", first_other < GOAL_FRESH_FIRST_CALL_S))
            import_core_s = statistics.median(r["import_core"] for r in runs)
            goals.append(Goal("import rntk_core (info)", "-", f"{import_core_s:.3f} s", None))
        else:
            goals.append(Goal("fresh process, first gram call", f"< {GOAL_FRESH_FIRST_CALL_S:.0f} s",
                              "failed", False))
    else:
        goals.append(Goal("fresh process, first gram call", f"< {GOAL_FRESH_FIRST_CALL_S:.0f} s",
                          "no rntk_core", None))

    # Summary.
    print(f"\n  load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("\nSummary")
    if core and core_equal:
        print(f"  dense baseline: {fmt_rate(steps_equal, dense.best).strip()}; "
              f"core: {fmt_rate(steps_equal, core_equal.best).strip()} (equal lengths), "
              f"threading layer {threading_layer()}, {default_threads} threads")
    w_name = max(len(g.name) for g in goals)
    w_target = max(len(g.target) for g in goals)
    w_meas = max(len(g.measured) for g in goals)
    header = f"  {'goal':<{w_name}}  {'target':<{w_target}}  {'measured':<{w_meas}}  result"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for g in goals:
        print(f"  {g.name:<{w_name}}  {g.target:<{w_target}}  {g.measured:<{w_meas}}  {g.verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

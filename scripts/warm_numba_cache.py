"""Fill Numba's on-disk cache with rntk_core's compiled kernels, then prove a new process loads them.

rntk_core jits its kernels with ``cache=True``: the first process that runs a
kernel compiles it (seconds) and writes the machine code to the cache
(``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` beside the source); later
processes load it in milliseconds. Run this once after installing, as the user
and with the environment that will serve (the Docker image runs it at build
time), so neither start-up nor the first request waits for the compiler::

    python scripts/warm_numba_cache.py          # compile what is missing, then check
    python scripts/warm_numba_cache.py --check  # exit 1 unless every kernel loads from the cache

Numba keeps one compiled version per argument-type signature. The kernels take
arrays of fixed dtypes and get the activation, depth and direction as values,
so all variants share one signature; the grid below still runs each of them
(relu and erf, m = 1 and m > 1, L = 1 and 2, forward and bidirectional,
symmetric and cross Grams) so a kernel that one day specialises on them is
covered as well. A cache entry is valid for the CPU model it was compiled on
and for these exact source files; anywhere else Numba compiles once more and
rewrites the cache (which therefore has to stay writable by the serving user).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Iterator

import rntk_core  # first: it chooses Numba's vector width, which the cache entries are keyed by
import numpy as np
from numba.core.caching import NullCache
from numba.core.dispatcher import Dispatcher

from rntk_core import RNTKParams, gram, gram_diagonal


def run_grid() -> int:
    """Run every kernel variant once on tiny inputs; returns how many variants ran."""
    rng = np.random.default_rng(0)
    batches = ([[0.1, 0.2, 0.3], [0.5, -0.4]], [rng.normal(size=(4, 3)), rng.normal(size=(2, 3))])
    runs = 0
    for activation in ("relu", "erf"):
        for n_layers in (1, 2):
            for direction in ("forward", "bidirectional"):
                params = RNTKParams(activation=activation, n_layers=n_layers, direction=direction, sigma_h=0.1)
                for xs in batches:
                    gram(xs, params=params, output="both")
                    gram(xs, xs[:1], params=params, output="both")
                    gram_diagonal(xs, params=params, output="both")
                    runs += 1
    return runs


def cached_kernels() -> Iterator[tuple[str, Dispatcher]]:
    """rntk_core's jitted entry points that cache to disk (inlined helpers compile into them)."""
    for name, module in sorted(sys.modules.items()):
        if name != "rntk_core" and not name.startswith("rntk_core."):
            continue
        for attr, obj in sorted(vars(module).items()):
            if (
                isinstance(obj, Dispatcher)
                and obj.__module__ == name
                and not isinstance(obj._cache, NullCache)
                and obj.targetoptions.get("inline", "never") == "never"
            ):
                yield f"{name}.{attr}", obj


def check() -> list[str]:
    """Problems found after running the grid in this process (empty: all loaded from the cache)."""
    problems = []
    kernels = list(cached_kernels())
    if not kernels:
        problems.append("no cached Numba kernels found in rntk_core")
    for name, kernel in kernels:
        stats = kernel.stats
        if not kernel.signatures:
            problems.append(f"{name}: never ran (the warm-up grid misses it)")
        elif stats.cache_misses:
            problems.append(f"{name}: compiled {sum(stats.cache_misses.values())} signature(s) "
                            f"instead of loading them from {stats.cache_path}")
        print(f"{name}: {len(kernel.signatures)} signature(s), {sum(stats.cache_hits.values())} loaded "
              f"from the cache, {sum(stats.cache_misses.values())} compiled ({stats.cache_path})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check: fail if any kernel had to be compiled rather than loaded")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    runs = run_grid()
    elapsed = time.perf_counter() - started
    print(f"rntk_core {rntk_core.__version__}: {runs} kernel variants ran in {elapsed:.1f} s "
          f"(NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR', '<unset: __pycache__ beside the source>')})")
    if args.check:
        problems = check()
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1 if problems else 0
    for name, kernel in cached_kernels():
        print(f"{name}: {len(kernel.signatures)} signature(s) in {kernel.stats.cache_path}")
    return subprocess.call([sys.executable, os.path.abspath(__file__), "--check"])


if __name__ == "__main__":
    sys.exit(main())

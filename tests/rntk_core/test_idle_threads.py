"""Worker threads sleep when a Gram is done, instead of spinning on a core the caller may need."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os, time
import numpy as np, numba, rntk_core
X = list(np.random.default_rng(0).standard_normal((300, 50)))  # 2.3M pair-steps: runs on every thread
rntk_core.gram(X)
started = time.process_time()
time.sleep(0.1)
print(repr((time.process_time() - started, os.environ.get("OMP_WAIT_POLICY"), numba.threading_layer())))
"""


def _idle_cpu_seconds(**env: str) -> tuple[float, str, str]:
    """CPU time the process uses in the 100 ms after a parallel Gram; the wait policy; the threading layer."""
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO_ROOT, env={**clean, **env},
                          capture_output=True, text=True, check=True, timeout=600)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_idle_worker_threads_use_no_cpu_after_a_gram():
    cpu, policy, _ = _idle_cpu_seconds()
    assert policy == "PASSIVE"
    assert cpu < 0.003, f"{cpu * 1e3:.1f} ms of CPU in 100 ms of idleness after a Gram"


def test_a_wait_policy_the_user_chose_stands():
    cpu, policy, layer = _idle_cpu_seconds(OMP_WAIT_POLICY="ACTIVE")
    assert policy == "ACTIVE"
    if layer == "omp":  # OpenMP honours it: its threads spin through the whole pause
        assert cpu > 0.02, f"{cpu * 1e3:.1f} ms"

"""The choice of vector width: made only when safe, and invisible in the results."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os, sys
{before}
import rntk_core, numpy as np, llvmlite.binding as llvm
if sys.argv[1] != "none":
    rng = np.random.default_rng(3)
    X = [rng.standard_normal((int(t), 2)) for t in rng.integers(1, 40, 37)]
    p = rntk_core.RNTKParams(activation=sys.argv[1], n_layers=2, sigma_h=0.3)
    K = rntk_core.gram(X, params=p, output="both")
    sys.stdout.buffer.write(np.stack(K).tobytes())
sys.stderr.write(repr((os.environ.get("NUMBA_CPU_FEATURES", ""), llvm.get_host_cpu_features().get("avx512f", False))))
"""


def _probe(activation: str, before: str = "", **env: str) -> tuple[bytes, str, bool]:
    clean = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME", "RNTK_VECTOR_WIDTH")}
    done = subprocess.run([sys.executable, "-c", PROBE.format(before=before), activation], cwd=REPO_ROOT,
                          env={**clean, **env}, capture_output=True, check=True, timeout=600)
    features, has_avx512 = ast.literal_eval(done.stderr.decode().strip().splitlines()[-1])
    return done.stdout, features, has_avx512


def test_full_width_where_the_cpu_has_avx512_and_the_same_numbers_either_way():
    for activation in ("relu", "erf"):
        default, features, has_avx512 = _probe(activation)
        narrow, narrow_features, _ = _probe(activation, RNTK_VECTOR_WIDTH="256")
        assert features.endswith(",-prefer-256-bit") == has_avx512
        assert narrow_features == ""
        assert len(default) == 2 * 37 * 37 * 8
        assert default == narrow


def test_leaves_numba_alone_when_it_was_imported_first_or_configured():
    _, features, _ = _probe("none", before="import numba")
    assert features == ""
    _, features, _ = _probe("none", NUMBA_CPU_NAME="generic")
    assert features == ""

"""Symmetry and positive semi-definiteness on real data (GunPoint, JapaneseVowels)."""

from pathlib import Path

import numpy as np
import pytest

from rntk_core import RNTKParams, gram
from rntk_core.datasets import load_ts, unit_norm

DATA = Path(__file__).resolve().parents[2] / "data"


def _load(name: str) -> list[np.ndarray]:
    X, _ = load_ts(DATA / name / f"{name}_TRAIN.ts")
    return unit_norm(X)


@pytest.mark.parametrize("name", ["GunPoint", "JapaneseVowels"])
@pytest.mark.parametrize(
    "params",
    [
        RNTKParams(),
        RNTKParams(activation="erf", n_layers=2, sigma_w=[1.2, 0.9], sigma_b=0.3, sigma_h=0.5),
        RNTKParams(n_layers=2, sigma_h=1.0, direction="bidirectional"),
    ],
    ids=["default", "erf-2-layers", "relu-bidirectional"],
)
def test_gram_is_symmetric_psd(name, params):
    X = _load(name)
    for K in gram(X, params=params, output="both"):
        assert np.array_equal(K, K.T)
        eig = np.linalg.eigvalsh(K)
        assert eig[0] >= -1e-10 * eig[-1], (eig[0], eig[-1])


def test_japanese_vowels_lengths_really_vary():
    lengths = {x.shape[0] for x in _load("JapaneseVowels")}
    assert min(lengths) <= 10 and max(lengths) >= 25
    assert {x.shape[1] for x in _load("JapaneseVowels")} == {12}

"""Blocks of a Gram equal the whole-matrix call, bit for bit (batched == unbatched)."""

import numpy as np
import pytest

from rntk_core import RNTKParams, gram, gram_diagonal, tiled_gram
from rntk_core.tiling import block_bounds, block_plan

RNG = np.random.default_rng(11)
X = [RNG.normal(size=(RNG.integers(1, 25), 3)) for _ in range(29)]
Z = [RNG.normal(size=(RNG.integers(1, 25), 3)) for _ in range(13)]
PARAMS = [
    RNTKParams(sigma_h=0.5, sigma_b=0.2),
    RNTKParams(activation="erf", n_layers=3, sigma_h=0.3, direction="bidirectional"),
]


@pytest.mark.parametrize("p", PARAMS)
@pytest.mark.parametrize("block_size", [1, 5, 7, 28, 29, 100])
def test_tiled_equals_whole(p, block_size):
    for got, want in zip(
        tiled_gram(X, params=p, output="both", block_size=block_size), gram(X, params=p, output="both")
    ):
        assert np.array_equal(got, want)
    assert np.array_equal(tiled_gram(X, Z, params=p, block_size=block_size), gram(X, Z, params=p))


@pytest.mark.parametrize("p", PARAMS)
def test_a_block_is_the_same_numbers_as_its_place_in_the_whole(p):
    whole = gram(X, params=p)
    assert np.array_equal(gram(X[3:11], X[17:26], params=p), whole[3:11, 17:26])
    assert np.array_equal(gram(X[4:9], params=p), whole[4:9, 4:9])


@pytest.mark.parametrize("p", PARAMS)
def test_swapping_batches_transposes_exactly(p):
    assert np.array_equal(gram(Z, X, params=p), gram(X, Z, params=p).T)


@pytest.mark.parametrize("p", PARAMS)
def test_diagonal_alone_matches_the_gram(p):
    ntk, nngp = gram(X, params=p, output="both")
    d_ntk, d_nngp = gram_diagonal(X, params=p, output="both")
    assert np.array_equal(d_ntk, np.diag(ntk)) and np.array_equal(d_nngp, np.diag(nngp))


def test_same_sample_rule_only_on_the_symmetric_diagonal():
    """σh enters a sample paired with itself, not two samples with equal values."""
    p = RNTKParams(sigma_h=1.0)
    x = [RNG.normal(size=6)]
    assert gram(x, params=p)[0, 0] > gram(x, x, params=p)[0, 0]
    q = RNTKParams(sigma_h=0.0)
    np.testing.assert_allclose(gram(x, params=q)[0, 0], gram(x, x, params=q)[0, 0], rtol=1e-7)


def test_block_bounds_cover_from_the_start():
    assert block_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert block_bounds(8, 4)[:2] == block_bounds(10, 4)[:2]
    with pytest.raises(ValueError, match="^block_size"):
        block_bounds(3, 0)


@pytest.mark.parametrize("n_rows, n_cols, size", [(10, None, 4), (10, 7, 4), (1, None, 3), (5, 12, 5), (9, None, 9)])
def test_block_plan_covers_every_entry_once(n_rows, n_cols, size):
    """Each entry of the Gram is written by exactly one block (its own place, or a mirrored one)."""
    plan = block_plan(n_rows, n_cols, size)
    written = np.zeros((n_rows, n_rows if n_cols is None else n_cols), dtype=int)
    for block in plan:
        ones = np.ones(block.shape, dtype=int)
        written[block.r0:block.r1, block.c0:block.c1] += ones
        if block.mirror:
            written[block.c0:block.c1, block.r0:block.r1] += ones.T
        assert block.diagonal == (n_cols is None and block.row == block.col)
        assert block.mirror == (n_cols is None and block.row != block.col)
    assert (written == 1).all()
    assert all(b.row <= b.col for b in plan) or n_cols is not None


def test_block_operands_and_place_rebuild_the_gram():
    p = PARAMS[0]
    whole = gram(X, params=p)
    out = np.full_like(whole, np.nan)
    for block in block_plan(len(X), None, 8):
        rows, cols = block.operands(X, None)
        assert (cols is None) == block.diagonal
        block.place(out, gram(rows, cols, params=p))
        assert np.array_equal(block.cut(whole), whole[block.r0:block.r1, block.c0:block.c1])
    assert np.array_equal(out, whole)


def test_output_selects_kernels():
    ntk, nngp = gram(X[:4], params=PARAMS[0], output="both")
    assert np.array_equal(gram(X[:4], params=PARAMS[0], output="ntk"), ntk)
    assert np.array_equal(gram(X[:4], params=PARAMS[0], output="nngp"), nngp)
    assert not np.array_equal(ntk, nngp)

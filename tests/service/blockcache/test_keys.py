"""Cache keys of Gram blocks: one digest per sequence, canonical for both orders of a cross block."""

from __future__ import annotations

import numpy as np
import pytest

from rntk_core import RNTKParams
from rntk_core import SequenceBatch
from service.blockcache.keys import block_key, params_digest, run_digest, sequence_digest, sequence_digests


def test_sequence_digest_depends_on_values_shape_only():
    a = np.arange(6, dtype=np.float64).reshape(3, 2)
    assert sequence_digest(a) == sequence_digest(a.copy())
    assert sequence_digest(a) != sequence_digest(a.reshape(2, 3))
    assert sequence_digest(a) != sequence_digest(a.reshape(6, 1))
    b = a.copy()
    b[2, 1] += 1e-12
    assert sequence_digest(a) != sequence_digest(b)


def test_batch_digests_are_the_per_sequence_digests():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(t, 2)) for t in (3, 5, 3, 1)]
    odd = [np.asfortranarray(rng.normal(size=(4, 3)))[:, :2], rng.normal(size=(2, 2)).astype(">f8")]
    batch = seqs + odd
    assert sequence_digests(batch) == [sequence_digest(s) for s in batch]
    flat = SequenceBatch.from_concatenated(np.concatenate(seqs), np.array([3, 5, 3, 1]))
    assert sequence_digests(flat) == [sequence_digest(s) for s in seqs]
    with pytest.raises(ValueError, match="expected"):
        sequence_digests([np.zeros(3)])


def test_block_keys_are_canonical_for_both_orders_and_distinguish_diagonal_blocks():
    p = params_digest(RNTKParams())
    a, b = run_digest([b"a" * 32]), run_digest([b"b" * 32])
    ab, ba = block_key(p, a, b), block_key(p, b, a)
    assert ab.digest == ba.digest and ab.transposed != ba.transposed
    assert block_key(p, a, None).digest != block_key(p, a, a).digest
    assert block_key(params_digest(RNTKParams(sigma_b=0.1)), a, b).digest != ab.digest
    assert params_digest(RNTKParams(sigma_w=[1.0, 1.0], n_layers=2)) == params_digest(
        RNTKParams(sigma_w=1.0, n_layers=2))

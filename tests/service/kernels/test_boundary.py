"""The boundary to rntk_core: request batches become the library's batches, its errors ours."""

from __future__ import annotations

import numpy as np
import pytest

from rntk_core import SequenceBatch, as_sequences
from service.errors import InvalidInput
from service.blockcache.keys import sequence_digests
from service.kernels.boundary import to_sequences


@pytest.mark.parametrize("batch,m", [
    ([[0.5, 1.0, -2.0], [3.0], [1, 2]], None),
    ([[[0.5, 1.0], [1.0, 2.0]], [[3.0, 4.0]]], None),
    ([[0.5, 1.0], [[1.0], [2.0]]], None),
    ([[0.5, 1.0], [2.0]], 1),
])
def test_json_batches_convert_as_the_library_does(batch, m):
    fast, reference = to_sequences(batch, "X", m=m), as_sequences(batch, "X", m=m)
    assert isinstance(fast, SequenceBatch) and fast.m == reference.m
    assert all(np.array_equal(a, b) and a.dtype == b.dtype and a.shape == b.shape for a, b in zip(fast, reference))
    assert sequence_digests(fast) == sequence_digests(reference)


def test_json_batches_that_fail_are_named_by_the_library():
    with pytest.raises(InvalidInput, match=r"^body\.X\[1\]: has m=2"):
        to_sequences([[1.0, 2.0], [[1.0, 2.0]]], "X")
    with pytest.raises(InvalidInput, match=r"^body\.Z\[0\]: has m=1"):
        to_sequences([[1.0, 2.0]], "Z", m=2)
    with pytest.raises(InvalidInput, match=r"^body\.Z_values: has m=2"):
        to_sequences(SequenceBatch.from_concatenated(np.zeros((2, 2)), np.array([2])), "Z", m=1)

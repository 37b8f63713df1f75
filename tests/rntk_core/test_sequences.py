"""Bad sequences are rejected with a message naming the sequence."""

import numpy as np
import pytest

from rntk_core import RNTKParams, SequenceBatch, as_sequences, gram


def test_accepts_univariate_multivariate_and_array_batches():
    seqs = as_sequences([[1, 2, 3], np.ones(2)])
    assert [s.shape for s in seqs] == [(3, 1), (2, 1)]
    assert all(s.dtype == np.float64 and s.flags.c_contiguous for s in seqs)
    assert [s.shape for s in as_sequences(np.zeros((4, 5, 3)))] == [(5, 3)] * 4
    assert [s.shape for s in as_sequences(np.zeros((4, 5)))] == [(5, 1)] * 4


@pytest.mark.parametrize(
    "X, message",
    [
        ([], r"^X: the batch holds no sequences"),
        ([[1.0], []], r"^X\[1\]: empty sequence"),
        ([[1.0, float("nan")]], r"^X\[0\]: contains NaN"),
        ([[1.0], [float("inf")]], r"^X\[1\]: contains NaN or infinite"),
        ([np.ones((3, 2)), np.ones((3, 3))], r"^X\[1\]: has m=3 features"),
        ([np.ones((2, 2, 2))], r"^X\[0\]: expected shape"),
        ([[[1.0, 2.0], [3.0]]], r"^X\[0\]: not a numeric array"),
        ([["a", "b"]], r"^X\[0\]: not a numeric array"),
        ("abc", r"^X: expected a list of sequences"),
        (np.ones(3), r"^X: an array batch must have shape"),
    ],
)
def test_bad_batches_name_the_sequence(X, message):
    with pytest.raises(ValueError, match=message):
        gram(X)


def test_cross_batches_must_share_m():
    with pytest.raises(ValueError, match=r"^Z\[0\]: has m=1 features per step but the other batch has m=2"):
        gram([np.ones((3, 2))], [np.ones(3)])


def test_unknown_output_and_params_type():
    with pytest.raises(ValueError, match="^output:"):
        gram([[1.0]], output="gp")
    with pytest.raises(ValueError, match="^params:"):
        gram([[1.0]], params={"sigma_v": 1.0})  # type: ignore[arg-type]


def test_inputs_are_not_modified():
    x = np.arange(6.0).reshape(3, 2)
    before = x.copy()
    gram([x, x[:2]], params=RNTKParams(direction="bidirectional"))
    assert np.array_equal(x, before)


def test_a_validated_batch_passes_again_untouched_and_stays_read_only():
    batch = as_sequences([np.ones(3), np.zeros((2, 1))])
    assert as_sequences(batch) is batch
    assert as_sequences(batch[1:]) == [batch[1]]
    assert type(batch[1:]) is type(batch) and batch[1:].m == 1
    with pytest.raises(ValueError, match=r"^Z\[0\]: has m=1 features per step but the other batch has m=2"):
        as_sequences(batch, "Z", m=2)
    with pytest.raises(TypeError):
        batch.append(np.ones(2))
    with pytest.raises(TypeError):
        batch[0] = np.ones(2)
    assert np.array_equal(gram(batch), gram([np.ones(3), np.zeros(2)]))


def test_a_batch_from_concatenated_values_is_read_only_views_of_them():
    values = np.arange(12, dtype=np.float64).reshape(6, 2)
    batch = SequenceBatch.from_concatenated(values, np.array([1, 3, 2]))
    assert isinstance(batch, SequenceBatch) and batch.m == 2
    assert [s.shape for s in batch] == [(1, 2), (3, 2), (2, 2)]
    assert all(np.shares_memory(s, values) and s.flags.c_contiguous and not s.flags.writeable for s in batch)
    assert as_sequences(batch) is batch


@pytest.mark.parametrize("lengths, values, message", [
    ([2, 0, 1], np.zeros((3, 1)), r"^Z\[1\]: empty sequence"),
    ([2, 2], np.zeros((3, 1)), r"^Z: the lengths sum to 4 but there are 3 rows"),
    ([1, 2], np.array([[0.0], [1.0], [np.nan]]), r"^Z\[1\]: contains NaN"),
    ([], np.zeros((0, 1)), r"^Z: the batch holds no sequences"),
    ([1], np.zeros((1, 1), dtype=np.float32), r"^Z: expected a C-contiguous"),
])
def test_a_batch_from_concatenated_values_is_checked(lengths, values, message):
    with pytest.raises(ValueError, match=message):
        SequenceBatch.from_concatenated(values, np.array(lengths, dtype=np.int64), "Z")


@pytest.mark.parametrize("batch", [
    [[0.5, 1.0, -2.0], [3.0], [1, 2]],
    [[0.5, 1.0], [[1.0], [2.0]]],
    [[True, 2.0]],
])
def test_lists_of_numbers_take_the_vectorised_path_with_the_same_numbers(batch):
    fast = as_sequences(batch)
    reference = [np.asarray(s, dtype=np.float64).reshape(len(s), -1) for s in batch]
    assert all(np.array_equal(a, b) and a.shape == b.shape and a.flags.c_contiguous for a, b in zip(fast, reference))

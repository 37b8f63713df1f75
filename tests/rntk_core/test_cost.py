"""The cost model counts the steps the pair recursion runs, against a brute-force count."""

from __future__ import annotations

from hypothesis import given, settings as hyp_settings, strategies as st

from rntk_core import RNTKParams, pair_steps
from rntk_core.cost import cross_pair_steps, symmetric_pair_steps

lengths = st.lists(st.integers(1, 30), min_size=1, max_size=12)


@given(lengths, lengths)
@hyp_settings(max_examples=50, deadline=None)
def test_pair_step_counts_match_brute_force(a, b):
    assert symmetric_pair_steps(a) == sum(min(a[i], a[j]) for i in range(len(a)) for j in range(i, len(a)))
    assert cross_pair_steps(a, b) == sum(min(x, y) for x in a for y in b)


def test_layers_and_direction_passes_multiply_the_count():
    a, b = [3, 5, 2], [4, 1]
    base = cross_pair_steps(a, b)
    assert pair_steps(a, b, RNTKParams()) == base
    assert pair_steps(a, b, RNTKParams(n_layers=3, direction="bidirectional")) == 6 * base
    assert pair_steps(a, None, RNTKParams(direction="backward")) == symmetric_pair_steps(a)

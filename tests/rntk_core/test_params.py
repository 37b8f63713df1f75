"""RNTKParams validates every field and serializes canonically."""

import math
import re

import pytest

from rntk_core import RNTKParams


def test_defaults_are_the_papers_relu_recommendation():
    p = RNTKParams()
    assert p.activation == "relu" and p.n_layers == 1 and p.direction == "forward"
    assert p.sigma_w == (math.sqrt(2.0),) and p.sigma_u == (1.0,) and p.sigma_b == (0.0,)
    assert p.sigma_h == 0.0 and p.sigma_v == 1.0


def test_scalar_and_per_layer_forms_are_one_kernel():
    a = RNTKParams(n_layers=3, sigma_w=1.2, sigma_u=[0.5, 0.5, 0.5])
    b = RNTKParams(n_layers=3, sigma_w=[1.2, 1.2, 1.2], sigma_u=0.5)
    assert a == b
    assert a.canonical_json() == b.canonical_json()
    assert RNTKParams.from_dict(a.to_dict()) == a


def test_canonical_json_distinguishes_kernels():
    assert RNTKParams(sigma_b=0.1).canonical_json() != RNTKParams(sigma_b=0.2).canonical_json()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(activation="tanh"), "activation"),
        (dict(direction="sideways"), "direction"),
        (dict(n_layers=0), "n_layers"),
        (dict(n_layers=1000), "n_layers"),
        (dict(n_layers=2.0), "n_layers"),
        (dict(n_layers=True), "n_layers"),
        (dict(sigma_w=-1.0), "sigma_w"),
        (dict(sigma_u=float("nan")), "sigma_u"),
        (dict(sigma_b=float("inf")), "sigma_b"),
        (dict(sigma_h=-0.1), "sigma_h"),
        (dict(sigma_v=0.0), "sigma_v"),
        (dict(sigma_v="1"), "sigma_v"),
        (dict(n_layers=2, sigma_w=[1.0]), "sigma_w"),
        (dict(n_layers=2, sigma_b=[0.1, -0.1]), "sigma_b[1]"),
    ],
)
def test_invalid_fields_are_named(kwargs, field):
    with pytest.raises(ValueError, match="^" + re.escape(field) + ":"):
        RNTKParams(**kwargs)


@pytest.mark.parametrize("value", [1e160, 1e308, 2.0 ** 510 * (1 + 2 ** -52)])
@pytest.mark.parametrize("field", ["sigma_w", "sigma_u", "sigma_b", "sigma_h", "sigma_v"])
def test_sigmas_whose_squares_leave_float64_are_named(field, value):
    """σ² must be a finite variance the recursion can use: σ above 2^510 is refused by name."""
    with pytest.raises(ValueError, match="^" + field + r": must be at most 2\^510"):
        RNTKParams(**{field: value})
    if field not in ("sigma_h", "sigma_v"):
        with pytest.raises(ValueError, match="^" + field + r"\[1\]: must be at most"):
            RNTKParams(n_layers=2, **{field: [1.0, value]})


def test_the_largest_sigma_is_accepted_and_its_square_is_finite():
    p = RNTKParams(sigma_w=2.0 ** 510, sigma_u=2.0 ** 510, sigma_b=2.0 ** 510, sigma_h=2.0 ** 510, sigma_v=2.0 ** 510)
    assert p.sigma_b == (2.0 ** 510,) and math.isfinite(p.sigma_v ** 2)


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="^sigma_x: unknown parameter"):
        RNTKParams.from_dict({"sigma_x": 1.0})


def test_params_are_immutable():
    with pytest.raises(AttributeError):
        RNTKParams().sigma_v = 2.0  # type: ignore[misc]

"""The request schema of the parameters is RNTKParams' own: the same fields and choices, and no default of its own."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from rntk_core import ACTIVATIONS, DIRECTIONS, MAX_LAYERS, RNTKParams
from service.api.schemas import ParamsIn


def _choices(name: str) -> tuple:
    annotation = ParamsIn.model_fields[name].annotation
    (literal,) = [a for a in typing.get_args(annotation) if typing.get_origin(a) is typing.Literal]
    return typing.get_args(literal)


def test_the_fields_are_rntkparams_fields():
    assert list(ParamsIn.model_fields) == [f.name for f in dataclasses.fields(RNTKParams)]


def test_the_choices_are_the_library_s():
    assert _choices("activation") == ACTIVATIONS
    assert _choices("direction") == DIRECTIONS


def test_an_empty_params_object_means_the_library_defaults():
    assert ParamsIn().given() == {}
    assert RNTKParams.from_dict(ParamsIn().given()) == RNTKParams()
    for field in ParamsIn.model_fields.values():
        assert field.default is None


@pytest.mark.parametrize("given", [
    {"activation": "erf", "n_layers": MAX_LAYERS, "sigma_w": [1.0] * MAX_LAYERS, "direction": "bidirectional"},
    {"sigma_u": 0.5, "sigma_b": [0.1], "sigma_h": 0.2, "sigma_v": 2.0},
])
def test_what_the_schema_accepts_builds_the_same_params(given):
    assert RNTKParams.from_dict(ParamsIn.model_validate(given).given()) == RNTKParams(**given)

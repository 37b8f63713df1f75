"""Request and response bodies: pydantic models, strict and closed.

Every request model forbids unknown fields and parses strictly: numbers must
be JSON numbers (not "1.5", not true), non-finite values are refused, and
integers stay integers. Validation errors name the field (``body.X[3][0]``);
the handler in `service.app` formats them. Response models document the
answers in the OpenAPI schema, with a working example for each endpoint.

A request model's ``BATCHES`` names its batches of sequences: they may also
arrive as arrays in an ``application/x-npz`` body (`service.wire.npz_body`), the
other fields then as the JSON object that `options_model` validates.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr,
                      ValidationInfo, create_model)
from pydantic_core import PydanticCustomError

from rntk_core import ACTIVATIONS, DIRECTIONS, MAX_LAYERS, RNTKParams


def _strict(*examples: dict) -> ConfigDict:
    extra = {"examples": list(examples)} if examples else None
    return ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, json_schema_extra=extra)


# Sequences ------------------------------------------------------------------

Step = Annotated[list[float], Field(min_length=1, description="One time step: m numbers.")]
Sequence = Union[
    Annotated[list[float], Field(min_length=1, description="A sequence of m = 1: one number per step.")],
    Annotated[list[Step], Field(min_length=1, description="A sequence of T steps of m numbers each.")],
]
Batch = Annotated[
    list[Sequence],
    Field(min_length=1, description="Sequences; lengths may differ, m must agree."),
]

NonNegative = Annotated[float, Field(ge=0)]
PerLayer = Union[NonNegative, Annotated[list[NonNegative], Field(min_length=1, max_length=MAX_LAYERS)]]

_DEFAULTS = RNTKParams()
"""The library's defaults: the one place they are set; the schema only describes them."""


def _default(name: str) -> str:
    value = getattr(_DEFAULTS, name)
    shown = value[0] if isinstance(value, tuple) and len(set(value)) == 1 else value
    return f"default {shown!r}" if isinstance(shown, str) else f"default {shown:g}"


class ParamsIn(BaseModel):
    """RNTK hyperparameters (`rntk_core.RNTKParams`); an omitted or null field takes the library's default.

    The fields are those of `RNTKParams`, with its choices; its own checks
    (and their messages) apply when the request is served, named under
    ``body.params``. The schema's types only keep JSON of the wrong shape out.
    """

    model_config = _strict(_DEFAULTS.to_dict())

    activation: Optional[Literal[ACTIVATIONS]] = Field(None, description=f"φ; {_default('activation')}.")
    n_layers: Optional[Annotated[StrictInt, Field(ge=1, le=MAX_LAYERS)]] = Field(
        None, description=f"L, the stacked layers; {_default('n_layers')}.")
    sigma_w: Optional[PerLayer] = Field(
        None, description=f"Recurrent weight scale, or one per layer; {_default('sigma_w')}.")
    sigma_u: Optional[PerLayer] = Field(
        None, description=f"Input weight scale, or one per layer; {_default('sigma_u')}.")
    sigma_b: Optional[PerLayer] = Field(None, description=f"Bias scale, or one per layer; {_default('sigma_b')}.")
    sigma_h: Optional[NonNegative] = Field(None, description=f"Initial hidden state scale; {_default('sigma_h')}.")
    sigma_v: Optional[Annotated[float, Field(gt=0)]] = Field(
        None, description=f"Read-out scale (> 0); {_default('sigma_v')}.")
    direction: Optional[Literal[DIRECTIONS]] = Field(None, description=f"Reading direction; {_default('direction')}.")

    def given(self) -> dict[str, Any]:
        """The fields the client set (for `RNTKParams.from_dict`)."""
        return self.model_dump(exclude_none=True)


class CacheInfo(BaseModel):
    """Block cache use of the request: blocks assembled, of which served from cache / computed."""

    blocks: int
    hits: int
    misses: int


# /gram ------------------------------------------------------------------------

class GramRequest(BaseModel):
    """Gram matrix of X (symmetric) or between X and Z (cross)."""

    model_config = _strict(
        {"X": [[0.1, 0.5, -0.3], [1.0, 0.2]], "params": {"sigma_b": 0.1}, "output": "both"},
        {"X": [[[0.1, 1.0], [0.5, -1.0]], [[1.0, 0.0]]], "Z": [[[0.2, 0.3]]], "output": "ntk"},
    )

    BATCHES: ClassVar[tuple[str, ...]] = ("X", "Z")

    X: Batch
    Z: Optional[Batch] = Field(None, description="Second batch; omitted: the symmetric Gram of X.")
    params: ParamsIn = Field(default_factory=ParamsIn)
    output: Literal["ntk", "nngp", "both"] = Field("ntk", description="Which kernel(s) to return.")


class GramResponse(BaseModel):
    """The requested kernels (N x M) with the cache figures."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"ntk": [[1.2, 0.3], [0.3, 0.9]], "nngp": [[0.6, 0.1], [0.1, 0.4]], "shape": [2, 2],
         "cache": {"blocks": 1, "hits": 0, "misses": 1}},
    ]})

    ntk: Optional[list[list[float]]] = Field(None, description="Present when output is ntk or both.")
    nngp: Optional[list[list[float]]] = Field(None, description="Present when output is nngp or both.")
    shape: Annotated[list[int], Field(min_length=2, max_length=2)]
    cache: CacheInfo


@lru_cache(maxsize=None)
def options_model(model: type[BaseModel]) -> type[BaseModel]:
    """`model` without its ``BATCHES``: the same fields, checks and defaults, equally strict and closed."""
    batches = getattr(model, "BATCHES", ())
    fields: dict[str, Any] = {name: (info.annotation, info) for name, info in model.model_fields.items()
                              if name not in batches}
    return create_model(f"{model.__name__}Options", __config__=_strict(), **fields)


# /krr -------------------------------------------------------------------------

LABEL_MAGNITUDE = 1 << 63
"""Numeric class labels lie in the 64-bit signed range [-2**63, 2**63 - 1] (floats: below 2**63 in magnitude)."""


def check_labels(y: Any, info: ValidationInfo) -> Any:
    """With ``task: "classification"``, refuse labels that JSON does not carry exactly.

    Labels must be all strings or all numbers. Numbers must lie in the 64-bit
    signed range: a JSON parser reads an integer beyond 64 bits as a float, so
    a label of magnitude 2**63 or more, integer or float, may not be what the
    client sent; such labels go as strings. Runs before `Targets` parses `y`,
    on the JSON values themselves, and needs ``task`` to be validated before it.
    """
    if info.data.get("task") != "classification" or not isinstance(y, list):
        return y
    first: dict[str, int] = {}
    for i, label in enumerate(y):
        if isinstance(label, str):
            first.setdefault("string", i)
        elif isinstance(label, (int, float)) and not isinstance(label, bool):
            first.setdefault("number", i)
            # -2**63 is a label as an integer; as a float it may be -2**63 - 1 rounded
            low_ok = label >= -LABEL_MAGNITUDE if isinstance(label, int) else label > -LABEL_MAGNITUDE
            if not (low_ok and label < LABEL_MAGNITUDE):
                raise PydanticCustomError(
                    "label_range",
                    "y[{i}]: the label {label} is outside the 64-bit signed integer range [-2**63, 2**63 - 1]; "
                    "JSON parsers read larger integers as approximate floats, so send such labels as strings",
                    {"i": i, "label": repr(label)},
                )
    if len(first) == 2:
        raise PydanticCustomError(
            "label_mix", "labels must be all strings or all numbers, not a mix (y[{s}] is a string, y[{n}] a number)",
            {"s": first["string"], "n": first["number"]},
        )
    return y


Targets = Union[
    Annotated[list[StrictInt], Field(min_length=1)],
    Annotated[list[float], Field(min_length=1)],
    Annotated[list[Annotated[list[float], Field(min_length=1)]], Field(min_length=1)],
    Annotated[list[StrictStr], Field(min_length=1)],
]


class FitRequest(BaseModel):
    """Fit kernel ridge regression (or classification) on X, y."""

    model_config = _strict(
        {"X": [[0.1, 0.5, -0.3], [1.0, 0.2], [0.3, 0.3, 0.1, -0.2]], "y": [0.5, 1.5, -0.2],
         "ridge": 0.001, "kernel": "ntk", "task": "regression"},
        {"X": [[0.1, 0.5], [1.0, 0.2, 0.4], [-0.3, -0.1], [-1.0, -0.2]], "y": ["up", "up", "down", "down"],
         "ridge": "auto", "kernel": "nngp", "task": "classification"},
    )

    BATCHES: ClassVar[tuple[str, ...]] = ("X",)

    X: Batch
    task: Literal["regression", "classification"] = "regression"  # before y, whose check reads it
    y: Annotated[Targets, BeforeValidator(check_labels)] = Field(description=(
        "Regression: N numbers or N lists of outputs. Classification: N labels, all strings (any Unicode "
        "text) or all numbers (integers within the 64-bit signed range), returned as sent; numbers are "
        "labels by value (1 sent beside 2.5 comes back as 1.0)."
    ))
    params: ParamsIn = Field(default_factory=ParamsIn)
    ridge: Union[NonNegative, Literal["auto"]] = Field(
        "auto", description="λ >= 0, or \"auto\" to choose it by exact leave-one-out."
    )
    kernel: Literal["ntk", "nngp"] = "ntk"


class LooCurve(BaseModel):
    """Leave-one-out error over the ridge grid (null where not finite)."""

    ridge: list[Optional[float]]
    loo_mse: list[Optional[float]]
    loo_accuracy: Optional[list[Optional[float]]] = None


class FitResponse(BaseModel):
    """The stored model's id and what the fit chose."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"model_id": "q3V9mXyJ0d2r7iL1pYbTt8kQwE5cNfHa", "ridge": 0.001, "n_train": 3, "kernel": "ntk",
         "task": "regression", "classes": None, "loo": None, "cache": {"blocks": 1, "hits": 0, "misses": 1}},
    ]})

    model_id: str
    ridge: float
    n_train: int
    kernel: Literal["ntk", "nngp"]
    task: Literal["regression", "classification"]
    classes: Optional[list[Union[StrictInt, StrictBool, float, StrictStr]]] = None
    loo: Optional[LooCurve] = None
    cache: CacheInfo


MODEL_ID_PLACEHOLDER = "PasteTheModelIdThatKrrFitReturns"
"""The model id of the request examples: of the form of an id, and saying what to put in its place."""

MODEL_ID_HELP = (
    "The `model_id` that POST /krr/fit answered. Models exist only once fitted: run /krr/fit first "
    f"(its examples work as they are), then paste its `model_id` here in place of `{MODEL_ID_PLACEHOLDER}`, "
    "which answers 404."
)


class PredictRequest(BaseModel):
    """Predict with a stored model: fit one with /krr/fit first and send its `model_id`."""

    model_config = _strict(
        {"model_id": MODEL_ID_PLACEHOLDER, "X": [[0.2, 0.4, -0.1]], "return_std": False},
    )

    BATCHES: ClassVar[tuple[str, ...]] = ("X",)

    model_id: Annotated[str, Field(min_length=1, max_length=128, description=MODEL_ID_HELP)]
    X: Batch
    return_std: StrictBool = Field(False, description="Also return the GP posterior std (NNGP models).")


Prediction = Union[StrictInt, StrictBool, float, StrictStr, list[float]]


class PredictResponse(BaseModel):
    """Predicted labels or values, class scores, and posterior std if asked."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"predictions": [0.42], "scores": None, "std": None, "cache": {"blocks": 1, "hits": 0, "misses": 1}},
    ]})

    predictions: list[Prediction]
    scores: Optional[list[list[float]]] = Field(None, description="Classification: one column per class.")
    std: Optional[list[float]] = Field(None, description="With return_std: posterior standard deviations.")
    cache: CacheInfo


class ModelInfo(BaseModel):
    """A stored model's id, size and payload metadata."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"model_id": "q3V9mXyJ0d2r7iL1pYbTt8kQwE5cNfHa", "size_bytes": 1645,
         "metadata": {"format": "rntk_core.KernelRidge", "format_version": 1, "kernel": "ntk",
                      "task": "regression", "ridge": 0.001, "n_train": 3, "m": 1}},
    ]})

    model_id: str
    size_bytes: int
    metadata: dict[str, Any]


class Deleted(BaseModel):
    """Confirmation of a deletion."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"model_id": "q3V9mXyJ0d2r7iL1pYbTt8kQwE5cNfHa", "deleted": True},
    ]})

    model_id: str
    deleted: Literal[True] = True


# health and errors ------------------------------------------------------------

class Health(BaseModel):
    """The process answers."""

    status: Literal["ok"] = "ok"


class Dependency(BaseModel):
    """One backing store: what it is and whether it answers."""

    kind: str
    status: str


class Readiness(BaseModel):
    """Whether the service can do its work: kernels compiled, stores reachable."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"status": "degraded", "compiled": True, "cache": {"kind": "redis", "status": "unreachable"},
         "model_store": {"kind": "redis", "status": "unreachable"}},
    ]})

    status: Literal["ready", "degraded", "starting"]
    compiled: bool
    cache: Dependency
    model_store: Dependency


class FieldError(BaseModel):
    """One invalid field."""

    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: a code, a message naming the field or limit, and per-field details."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "invalid_input", "detail": "body.X[3]: contains NaN or infinite values", "errors": None},
    ]})

    error: str
    detail: str
    errors: Optional[list[FieldError]] = None

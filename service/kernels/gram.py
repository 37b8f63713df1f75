"""What ``POST /gram`` does, apart from HTTP: check, compute through the block cache, encode."""

from __future__ import annotations

from dataclasses import dataclass

from rntk_core import RNTKParams, pair_steps

from ..api.schemas import GramRequest
from ..blockcache.assembly import BlockGram, CacheStats
from ..settings import Settings
from ..wire.answers import EncodedMatrices, encode_matrices
from .boundary import library_errors, to_params, to_sequences
from .limits import check_request


@dataclass(frozen=True)
class GramJob:
    """A request that passed the cheap checks and may be computed."""

    request: GramRequest
    params: RNTKParams


class GramService:
    """Gram matrices of requests, block by block through the cache."""

    def __init__(self, blocks: BlockGram, settings: Settings) -> None:
        self.blocks = blocks
        self.settings = settings

    def admit(self, req: GramRequest) -> GramJob:
        """Parameters and limits, from lengths alone (cheap; runs before a slot is taken)."""
        params = to_params(req.params.given())
        x_len = [len(s) for s in req.X]
        z_len = None if req.Z is None else [len(s) for s in req.Z]
        batches = {"X": x_len} if z_len is None else {"X": x_len, "Z": z_len}
        entries = len(x_len) * len(x_len if z_len is None else z_len)
        check_request(batches, pair_steps(x_len, z_len, params), self.settings, entries)
        return GramJob(req, params)

    def run(self, job: GramJob, media_type: str) -> tuple[EncodedMatrices, CacheStats]:
        """Validate the sequences, assemble the Gram, encode it; with the cache figures (runs in a compute slot)."""
        req = job.request
        xs = to_sequences(req.X, "X")
        zs = None if req.Z is None else to_sequences(req.Z, "Z", m=xs.m)
        shape = [len(xs), len(xs if zs is None else zs)]
        stats = CacheStats()
        with library_errors():  # a kernel beyond float64 names its sequence
            matrices = self.blocks.compute(xs, zs, job.params, req.output, stats)
        return encode_matrices(matrices, {"shape": shape}, media_type), stats

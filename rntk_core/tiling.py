"""The block plan of a Gram, and its assembly block by block.

Blocks are cut from the start of each batch in fixed-size runs, so appending
sequences to a batch leaves every earlier block unchanged: a cache keyed by a
block's sequences keeps its entries. A symmetric Gram needs only the blocks
on and above the diagonal; the rest are transposes (exact, since each pair is
computed symmetrically). `block_plan` is that plan, for every caller that
computes, caches or distributes blocks; `tiled_gram` is the plan carried out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, TypeVar

import numpy as np

from .float_range import KernelOverflowError
from .gram import GramResult, check_output, gram, select_output
from .params import RNTKParams
from .sequences import as_sequences

T = TypeVar("T")


def block_bounds(n: int, block_size: int) -> list[tuple[int, int]]:
    """Half-open ranges [start, stop) of consecutive blocks covering 0..n."""
    if block_size < 1:
        raise ValueError(f"block_size: must be >= 1, got {block_size}")
    return [(lo, min(lo + block_size, n)) for lo in range(0, n, block_size)]


@dataclass(frozen=True)
class Block:
    """One block of a Gram: rows [r0, r1) against columns [c0, c1).

    `row` and `col` number the block among the runs of its batch(es).
    ``diagonal``: a diagonal block of a symmetric Gram, ``gram(rows)``, where
    each sequence meets itself. ``mirror``: an upper block of a symmetric
    Gram, whose transpose also fills [c0, c1) × [r0, r1).
    """

    row: int
    col: int
    r0: int
    r1: int
    c0: int
    c1: int
    diagonal: bool
    mirror: bool

    @property
    def shape(self) -> tuple[int, int]:
        return self.r1 - self.r0, self.c1 - self.c0

    def operands(self, xs: Sequence[T], zs: Optional[Sequence[T]]) -> tuple[Sequence[T], Optional[Sequence[T]]]:
        """The block's rows and columns: ``gram(*block.operands(X, Z))`` computes it (columns None: diagonal)."""
        rows = xs[self.r0:self.r1]
        if self.diagonal:
            return rows, None
        return rows, (xs if zs is None else zs)[self.c0:self.c1]

    def place(self, out: np.ndarray, values: np.ndarray) -> None:
        """Write the block's `values` into the whole matrix `out` (and their transpose where mirrored)."""
        out[self.r0:self.r1, self.c0:self.c1] = values
        if self.mirror:
            out[self.c0:self.c1, self.r0:self.r1] = values.T

    def cut(self, whole: np.ndarray) -> np.ndarray:
        """The block's part of a whole Gram (a view)."""
        return whole[self.r0:self.r1, self.c0:self.c1]

    def renamed(self, exc: KernelOverflowError) -> KernelOverflowError:
        """A `KernelOverflowError` of ``gram(*block.operands(X, Z))`` naming the sequences of the whole
        batches: its X are X from `r0`, its Z are Z (or X, in a symmetric Gram) from `c0`."""
        symmetric = self.diagonal or self.mirror

        def whole(batch: str, index: int) -> tuple[str, int]:
            if batch == "X":
                return "X", self.r0 + index
            return ("X" if symmetric else "Z"), self.c0 + index

        partner = None if exc.partner is None else whole(*exc.partner)
        return exc.renamed(*whole(exc.batch, exc.index), partner=partner)


def block_plan(n_rows: int, n_cols: Optional[int], block_size: int) -> list[Block]:
    """Every block of an (n_rows, n_cols) cross Gram, or (``n_cols=None``) those on and above the
    diagonal of the symmetric Gram of n_rows sequences, row-major."""
    rows = block_bounds(n_rows, block_size)
    symmetric = n_cols is None
    cols = rows if symmetric else block_bounds(n_cols, block_size)
    return [
        Block(a, b, r0, r1, c0, c1, diagonal=symmetric and a == b, mirror=symmetric and a != b)
        for a, (r0, r1) in enumerate(rows)
        for b, (c0, c1) in enumerate(cols)
        if not (symmetric and b < a)
    ]


def tiled_gram(
    X: Any,
    Z: Any = None,
    *,
    params: Optional[RNTKParams] = None,
    output: str = "ntk",
    block_size: int = 256,
) -> GramResult:
    """The same matrix as `gram(X, Z, ...)`, bit for bit, computed block by block (`block_plan`).

    A `KernelOverflowError` from a block is raised again with the indices of
    the whole batches (`Block.renamed`), so it names the sequences `gram` would.
    """
    params = RNTKParams() if params is None else params
    check_output(output)
    xs = as_sequences(X, "X")
    zs = None if Z is None else as_sequences(Z, "Z", m=xs.m)
    shape = (len(xs), len(xs) if zs is None else len(zs))
    ntk, nngp = np.empty(shape), np.empty(shape)
    for block in block_plan(len(xs), None if zs is None else len(zs), block_size):
        try:
            k, g = gram(*block.operands(xs, zs), params=params, output="both")
        except KernelOverflowError as exc:
            raise block.renamed(exc) from None
        block.place(ntk, k)
        block.place(nngp, g)
    return select_output(ntk, nngp, output)

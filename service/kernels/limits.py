"""How much work a request asks for, and the configured limits on it.

Checked on the raw request (lengths only) before any computation is admitted,
so an oversized request costs nothing but its parsing. Each refusal names the
limit, its value and the environment variable that sets it.
"""

from __future__ import annotations

from typing import Sequence

from ..errors import LimitExceeded
from ..settings import Settings

def check_batch(name: str, lengths: Sequence[int], settings: Settings) -> None:
    """Refuse a batch with too many sequences, too long a sequence or too many values."""
    if len(lengths) > settings.max_sequences:
        raise LimitExceeded(f"body.{name}", f"{len(lengths)} sequences", "max_sequences",
                            settings.max_sequences)
    if lengths:
        longest = max(lengths)
        if longest > settings.max_length:
            at = list(lengths).index(longest)
            raise LimitExceeded(f"body.{name}[{at}]", f"length {longest}", "max_length",
                                settings.max_length)


def check_request(
    batches: dict[str, Sequence[int]],
    work: int,
    settings: Settings,
    entries: int = 0,
) -> None:
    """Check every batch (name -> lengths), their total steps, the pair-steps `work`
    and the `entries` (N·M) of the Gram matrix the request needs."""
    total = 0
    for name, lengths in batches.items():
        check_batch(name, lengths, settings)
        total += int(sum(lengths))
    if total > settings.max_total_steps:
        raise LimitExceeded("body", f"{total} steps in all", "max_total_steps",
                            settings.max_total_steps)
    if entries > settings.max_gram_entries:
        raise LimitExceeded("body", f"a Gram of {entries} entries", "max_gram_entries", settings.max_gram_entries)
    if work > settings.max_pair_steps:
        raise LimitExceeded("body", f"{work} pair-steps", "max_pair_steps", settings.max_pair_steps)

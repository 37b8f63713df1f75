"""Whole answers to exact repeats of Gram requests.

A request to ``POST /gram`` whose body is byte for byte that of an earlier
one, sent in the same format and answered in the same format, has the same
answer: the kernel version is fixed for the life of the process and
everything the answer depends on is in the body. Keeping the finished answer
lets a repeat skip parsing the body, hashing its sequences, assembling the
Gram from blocks and encoding it; what is left is a look-up, one comparison
with the kept request, and the HTTP exchange, which is what an exact repeat
(a retry, a dashboard refresh, several clients asking for the same matrix)
should cost.

A kept answer is found by a fingerprint of the body (its size, its two ends
and bytes sampled between), and served only for a request equal to the kept
one byte for byte: bodies that share a fingerprint share a slot, so a later
one takes the slot over, which costs a miss and never a wrong answer. The
ends of a request decide almost always: an npz archive ends with its
directory, which holds the CRC-32 of every array, and a JSON request ends
with its parameters.

What is kept is the answer as the route encoded it, apart from its cache
figures (`service.wire.answers.EncodedMatrices`), which the route hands over
(`offer`) with the number of blocks it spans: a repeat's answer is that body,
sent as it is held, with figures saying that every block was a hit.

In-process and per worker, bounded in bytes, least recently used out first.
The block cache behind it is still what serves overlapping requests, and what
replicas share.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..lru import SizedLRU
from ..wire.answers import EncodedMatrices, PartsResponse

Slot = tuple[str, str, str, int, int]
"""Path, request media type, answer media type, body length, body fingerprint."""

_EDGE_BYTES = 512
_SAMPLES = 16
_SAMPLE_BYTES = 32


def fingerprint(body: bytes) -> int:
    """A hash of the body's first and last 512 bytes and 16 samples of 32 bytes between (all of a short body)."""
    if len(body) <= 2 * _EDGE_BYTES + _SAMPLES * _SAMPLE_BYTES:
        return hash(body)
    step = (len(body) - 2 * _EDGE_BYTES) // (_SAMPLES + 1)
    inner = [body[_EDGE_BYTES + k * step:_EDGE_BYTES + k * step + _SAMPLE_BYTES] for k in range(1, _SAMPLES + 1)]
    return hash(b"".join([body[:_EDGE_BYTES], *inner, body[-_EDGE_BYTES:]]))


OFFERED = "rntk.kept_answer"
"""Where, in the ASGI scope of a request the repeat layer watches, an `Offer` takes the route's answer
(an object, so that copies of the scope made on the way share it)."""


@dataclass(frozen=True)
class KeptAnswer:
    """A finished answer, encoded (`service.wire.answers.EncodedMatrices`), and how many blocks it spans."""

    encoded: EncodedMatrices
    blocks: int

    @property
    def size(self) -> int:
        return self.encoded.size

    def repeat_response(self) -> PartsResponse:
        """This answer served again: every block a hit, none a miss."""
        return self.encoded.response({"blocks": self.blocks, "hits": self.blocks, "misses": 0})


class Offer:
    """The answer a route offers for keeping, if any."""

    answer: Optional[KeptAnswer] = None


def offer(scope: Mapping[str, Any], encoded: EncodedMatrices, blocks: int) -> None:
    """Offer a route's answer to the repeat layer, if it watches this request (kept only if sent with 200)."""
    slot = scope.get(OFFERED)
    if slot is not None:
        slot.answer = KeptAnswer(encoded, blocks)


@dataclass(frozen=True)
class _Entry:
    request: bytes
    answer: KeptAnswer

    @property
    def size(self) -> int:
        return len(self.request) + self.answer.size


class RepeatCache:
    """Kept answers by request (what it was sent to, its formats and its body); thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: SizedLRU[Slot, _Entry] = SizedLRU(max_bytes, lambda entry: entry.size, self._evicted)
        self._kinds: Counter[tuple] = Counter()
        """Kept entries by (path, formats, body length): which requests could be repeats at all."""
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @staticmethod
    def slot(path: str, request_type: str, answer_type: str, body: bytes) -> Slot:
        """Where a request's answer is kept: what it was sent to, its formats, its body's size and fingerprint."""
        return path, request_type, answer_type, len(body), fingerprint(body)

    def may_hold(self, path: str, request_type: str, answer_type: str, length: int) -> bool:
        """Whether an answer is kept for some request of this path, formats and body length: only then is
        a request's body worth reading before it is admitted."""
        return self._kinds[(path, request_type, answer_type, length)] > 0

    def get(self, slot: Slot, body: bytes) -> Optional[KeptAnswer]:
        """The answer kept for exactly this request (its `slot`, and a body equal byte for byte), if any."""
        with self._lock:
            entry = self._entries.peek(slot)
            if entry is None or entry.request != body:
                return None
            self._entries.touch(slot)
            return entry.answer

    def put(self, slot: Slot, body: bytes, answer: KeptAnswer) -> None:
        """Keep the answer to a request (not if the two alone exceed the budget), dropping the least recently used."""
        entry = _Entry(bytes(body), answer)
        with self._lock:
            new = self._entries.peek(slot) is None
            self._entries.put(slot, entry)
            if new and self._entries.peek(slot) is entry:  # (one too large to keep is not kept)
                self._kinds[slot[:4]] += 1

    def _evicted(self, slot: Slot, entry: _Entry) -> None:
        self._drop_kind(slot)

    def _drop_kind(self, slot: Slot) -> None:
        kind = slot[:4]
        self._kinds[kind] -= 1
        if self._kinds[kind] <= 0:
            del self._kinds[kind]

    @property
    def size_bytes(self) -> int:
        return self._entries.size_bytes

    def __len__(self) -> int:
        return len(self._entries)

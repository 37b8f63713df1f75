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

A repeat's answer says that every block was a hit: in the ``X-RNTK-Cache-*``
headers of a binary answer, and in the final ``"cache"`` member of a JSON
answer, which is rewritten (the rest of the kept body is sent as it is).

In-process and per worker, bounded in bytes, least recently used out first.
The block cache behind it is still what serves overlapping requests, and what
replicas share.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

import orjson

from ..blockcache.stores import BytesLike
from ..lru import SizedLRU
from ..wire.answers import JSON, dumps

HEADER_PREFIX = "x-rntk-"
CACHE_MEMBER = b',"cache":'
"""How a JSON answer's cache figures begin: its last member (`service.wire.answers.matrices_response`)."""

Slot = tuple[str, str, str, int, int]
"""Path, request media type, answer media type, body length, body fingerprint."""

_EDGE_BYTES = 512
_SAMPLES = 16
_SAMPLE_BYTES = 32
_JSON_TAIL_BYTES = 256
"""Where a JSON answer's cache member is looked for: its last bytes."""


def fingerprint(body: bytes) -> int:
    """A hash of the body's first and last 512 bytes and 16 samples of 32 bytes between (all of a short body)."""
    if len(body) <= 2 * _EDGE_BYTES + _SAMPLES * _SAMPLE_BYTES:
        return hash(body)
    step = (len(body) - 2 * _EDGE_BYTES) // (_SAMPLES + 1)
    inner = [body[_EDGE_BYTES + k * step:_EDGE_BYTES + k * step + _SAMPLE_BYTES] for k in range(1, _SAMPLES + 1)]
    return hash(b"".join([body[:_EDGE_BYTES], *inner, body[-_EDGE_BYTES:]]))


@dataclass(frozen=True)
class KeptAnswer:
    """A finished answer: its body (in the parts it was sent in), media type, ``X-RNTK-*`` headers
    and how many blocks it spans.

    For a JSON answer the body stops before the final cache member, which a
    repeat writes anew.
    """

    parts: tuple[BytesLike, ...]
    media_type: str
    headers: Mapping[str, str]
    blocks: int

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    def repeat_headers(self) -> dict[str, str]:
        """The ``X-RNTK-*`` headers of this answer served again: every block a hit, none a miss."""
        if self.media_type == JSON:
            return dict(self.headers)
        return {**self.headers, "x-rntk-cache-hits": str(self.blocks), "x-rntk-cache-misses": "0"}

    def repeat_body(self) -> list[BytesLike]:
        """The body of this answer served again, in parts (the kept body is not copied)."""
        if self.media_type != JSON:
            return list(self.parts)
        figures = {"blocks": self.blocks, "hits": self.blocks, "misses": 0}
        return [*self.parts, CACHE_MEMBER + dumps(figures) + b"}"]


def kept(parts: Sequence[BytesLike], media_type: str, headers: Iterable[tuple[str, str]]) -> Optional[KeptAnswer]:
    """A `KeptAnswer` from a finished Gram answer's body parts, media type and headers (None: not one)."""
    ours = {k.lower(): v for k, v in headers if k.lower().startswith(HEADER_PREFIX)}
    if media_type != JSON:
        return KeptAnswer(tuple(parts), media_type, ours, int(ours.get("x-rntk-cache-blocks", "0")))
    if not parts:
        return None
    view = memoryview(parts[-1])
    tail = len(view) - min(len(view), _JSON_TAIL_BYTES)
    start = bytes(view[tail:]).rfind(CACHE_MEMBER)
    if start < 0:
        return None
    start += tail
    try:
        figures = orjson.loads(view[start + len(CACHE_MEMBER):-1])
        blocks = int(figures["blocks"])
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
        return None
    return KeptAnswer((*parts[:-1], view[:start]), media_type, ours, blocks)


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
        self._entries: SizedLRU[Slot, _Entry] = SizedLRU(max_bytes, lambda entry: entry.size)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @staticmethod
    def slot(path: str, request_type: str, answer_type: str, body: bytes) -> Slot:
        """Where a request's answer is kept: what it was sent to, its formats, its body's size and fingerprint."""
        return path, request_type, answer_type, len(body), fingerprint(body)

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
            self._entries.put(slot, entry)

    @property
    def size_bytes(self) -> int:
        return self._entries.size_bytes

    def __len__(self) -> int:
        return len(self._entries)

"""Whole answers to exact repeats of binary Gram requests.

An ``application/x-npz`` request to ``POST /gram`` whose body is byte for byte
that of an earlier one, answered in the same format, has the same answer: the
kernel version is fixed for the life of the process and everything the answer
depends on is in the body. Keeping the finished answer lets a repeat skip
reading the archive, hashing its sequences and assembling the Gram from
blocks; what is left is one CRC-32 of the body, one comparison with the kept
request, and the HTTP exchange, which is what an exact repeat (a retry, a
dashboard refresh, several clients asking for the same matrix) should cost.
The CRC only finds candidates: an answer is served only for a request equal
byte for byte to the one it answered, so a collision, accidental or crafted,
costs a miss and never a wrong answer. Only binary answers are kept: they
carry the cache figures in headers, which a repeat rewrites (every block a hit).

In-process and per worker, bounded in bytes, least recently used out first.
The block cache behind it is still what serves overlapping requests, and what
replicas share.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass
from typing import Mapping, Optional, Union

from .lru import SizedLRU

HEADER_PREFIX = "x-rntk-"

Slot = tuple[str, str, int, int]
"""Path, answer media type, body length, body CRC-32."""


@dataclass(frozen=True)
class KeptAnswer:
    """A finished answer: its body, media type, ``X-RNTK-*`` headers and how many blocks it spans."""

    body: Union[bytes, memoryview]
    media_type: str
    headers: Mapping[str, str]
    blocks: int

    def repeat_headers(self) -> dict[str, str]:
        """The headers of this answer served again: every block a hit, none a miss."""
        return {**self.headers, "x-rntk-cache-hits": str(self.blocks), "x-rntk-cache-misses": "0"}


@dataclass(frozen=True)
class _Entry:
    request: bytes
    answer: KeptAnswer

    @property
    def size(self) -> int:
        return len(self.request) + len(self.answer.body)


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
    def slot(path: str, media_type: str, body: bytes) -> Slot:
        """Where a request's answer is kept: what it was sent to, its answer's format, its body's size and CRC."""
        return path, media_type, len(body), zlib.crc32(body)

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


def kept(body: Union[bytes, memoryview], media_type: str, headers: Mapping[str, str]) -> KeptAnswer:
    """A `KeptAnswer` from a finished response's body, media type and headers."""
    ours = {k.lower(): v for k, v in headers.items() if k.lower().startswith(HEADER_PREFIX)}
    return KeptAnswer(body, media_type, ours, int(ours.get("x-rntk-cache-blocks", "0")))

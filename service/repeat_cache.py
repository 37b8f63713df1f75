"""Whole answers to exact repeats of binary Gram requests.

An ``application/x-npz`` request to ``POST /gram`` whose body is byte for byte
that of an earlier one, answered in the same format, has the same answer: the
kernel version is fixed for the life of the process and everything the answer
depends on is in the body. Keeping the finished answer lets a repeat skip
reading the archive, hashing its sequences and assembling the Gram from
blocks; what is left is one SHA-256 of the body and the HTTP exchange, which is
what an exact repeat (a retry, a dashboard refresh, several clients asking for
the same matrix) should cost. Only binary answers are kept: they carry the
cache figures in headers, which a repeat rewrites (every block a hit).

In-process and per worker, bounded in bytes, least recently used out first.
The block cache behind it is still what serves overlapping requests, and what
replicas share.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping, Optional, Union

HEADER_PREFIX = "x-rntk-"


@dataclass(frozen=True)
class KeptAnswer:
    """A finished answer: its body, media type, ``X-RNTK-*`` headers and how many blocks it spans."""

    body: Union[bytes, memoryview]
    media_type: str
    headers: Mapping[str, str]
    blocks: int

    @property
    def size(self) -> int:
        return len(self.body)

    def repeat_headers(self) -> dict[str, str]:
        """The headers of this answer served again: every block a hit, none a miss."""
        return {**self.headers, "x-rntk-cache-hits": str(self.blocks), "x-rntk-cache-misses": "0"}


class RepeatCache:
    """Kept answers by request digest; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._answers: "OrderedDict[bytes, KeptAnswer]" = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @staticmethod
    def key(path: str, content_type: str, media_type: str, body: bytes) -> bytes:
        """The digest naming a request: where it went, its formats, and its body."""
        h = hashlib.sha256(f"{path}\n{content_type}\n{media_type}\n".encode())
        h.update(body)
        return h.digest()

    def get(self, key: bytes) -> Optional[KeptAnswer]:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: bytes, answer: KeptAnswer) -> None:
        """Keep an answer (not if it alone exceeds the budget), dropping the least recently used."""
        if answer.size > self.max_bytes:
            return
        with self._lock:
            old = self._answers.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._answers[key] = answer
            self._bytes += answer.size
            while self._bytes > self.max_bytes:
                _, dropped = self._answers.popitem(last=False)
                self._bytes -= dropped.size

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._answers)


def kept(body: Union[bytes, memoryview], media_type: str, headers: Mapping[str, str]) -> KeptAnswer:
    """A `KeptAnswer` from a finished response's body, media type and headers."""
    ours = {k.lower(): v for k, v in headers.items() if k.lower().startswith(HEADER_PREFIX)}
    return KeptAnswer(body, media_type, ours, int(ours.get("x-rntk-cache-blocks", "0")))

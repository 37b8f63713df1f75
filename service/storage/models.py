"""Durable storage of fitted models (the library's safe `.npz` payload bytes).

Two stores behind one interface: Redis when ``RNTK_REDIS_URL`` is set, else a
local directory (the embedded default). Directory writes are atomic (a
temporary file in the same directory, fsynced, then renamed over), so a crash
never leaves half a model. Model ids are 192 random bits, URL-safe; an id that
does not have that form is simply not found (it never reaches a file path).
`FallbackCopies` keeps recently used payloads in memory and serves them only
while the underlying store is unreachable.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from redis.exceptions import RedisError

from ..errors import ModelNotFound, RedisDown, StoreUnavailable
from ..lru import SizedLRU
from .redis_link import RedisLink

_ID_BYTES = 24
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")


def new_model_id() -> str:
    """A fresh, unguessable model id (32 URL-safe characters)."""
    return secrets.token_urlsafe(_ID_BYTES)


def is_model_id(value: str) -> bool:
    """Whether `value` is, all of it, of the form of a model id.

    A full match: ``$`` would also accept an id followed by a newline.
    """
    return _ID_PATTERN.fullmatch(value) is not None


class ModelStore(Protocol):
    """Where fitted models live."""

    kind: str

    def put(self, model_id: str, payload: bytes) -> None:
        """Store a new model (raises `StoreUnavailable`)."""

    def get(self, model_id: str) -> bytes:
        """The payload (raises `ModelNotFound`, `StoreUnavailable`)."""

    def delete(self, model_id: str) -> None:
        """Remove a model (raises `ModelNotFound`, `StoreUnavailable`)."""

    def available(self) -> bool:
        """Whether the store is believed reachable, without waiting on the network."""

    def status(self) -> str:
        """"ok" or "unreachable" (may check the network)."""


class DirectoryModelStore:
    """One file per model, ``<root>/<id>.rntk``, written atomically."""

    kind = "directory"
    suffix = ".rntk"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)  # created on the first write

    def _path(self, model_id: str) -> Path:
        if not is_model_id(model_id):
            raise ModelNotFound(model_id)
        return self.root / f"{model_id}{self.suffix}"

    def put(self, model_id: str, payload: bytes) -> None:
        path = self._path(model_id)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=self.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)

    def get(self, model_id: str) -> bytes:
        try:
            return self._path(model_id).read_bytes()
        except FileNotFoundError:
            raise ModelNotFound(model_id) from None

    def delete(self, model_id: str) -> None:
        try:
            self._path(model_id).unlink()
        except FileNotFoundError:
            raise ModelNotFound(model_id) from None
        _fsync_dir(self.root)

    def available(self) -> bool:
        return True

    def status(self) -> str:
        probe = self.root if self.root.exists() else next(p for p in self.root.parents if p.exists())
        return "ok" if os.access(probe, os.W_OK) else "unreachable"


def _fsync_dir(path: Path) -> None:
    """Make a rename or unlink in `path` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class RedisModelStore:
    """Models under ``<prefix>model:<id>`` in Redis, optionally with a TTL."""

    kind = "redis"

    def __init__(self, link: RedisLink, ttl_s: int, retry_after_s: int) -> None:
        self.link = link
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s

    def _key(self, model_id: str) -> str:
        if not is_model_id(model_id):
            raise ModelNotFound(model_id)
        return f"{self.link.prefix}model:{model_id}"

    def _call(self, fn):
        try:
            return self.link.call(fn)
        except (RedisDown, RedisError) as exc:
            raise StoreUnavailable(
                f"model store unavailable: {exc}; models kept in Redis cannot be read or written "
                "until it is back",
                self.retry_after_s,
            ) from exc

    def put(self, model_id: str, payload: bytes) -> None:
        key = self._key(model_id)
        self._call(lambda r: r.set(key, payload, ex=self.ttl_s or None))

    def get(self, model_id: str) -> bytes:
        key = self._key(model_id)
        payload = self._call(lambda r: r.get(key))
        if payload is None:
            raise ModelNotFound(model_id)
        return payload

    def delete(self, model_id: str) -> None:
        key = self._key(model_id)
        if not self._call(lambda r: r.delete(key)):
            raise ModelNotFound(model_id)

    def available(self) -> bool:
        return self.link.breaker.allow()

    def status(self) -> str:
        return "ok" if self.link.ping() else "unreachable"


class FallbackCopies:
    """Wraps a store; remembers recent payloads (LRU, bounded in bytes) for when it is unreachable.

    Reads go to the store first, so deletions made elsewhere are honoured
    whenever the store answers; the copy is used only instead of a 503.
    """

    def __init__(self, store: ModelStore, max_bytes: int) -> None:
        self.store = store
        self.kind = store.kind
        self.max_bytes = max_bytes
        self._copies: SizedLRU[str, bytes] = SizedLRU(max_bytes, len)
        self._lock = threading.Lock()

    def _remember(self, model_id: str, payload: bytes) -> None:
        with self._lock:
            self._copies.put(model_id, payload)

    def _forget(self, model_id: str) -> None:
        with self._lock:
            self._copies.pop(model_id)

    def put(self, model_id: str, payload: bytes) -> None:
        self.store.put(model_id, payload)
        self._remember(model_id, payload)

    def get(self, model_id: str) -> bytes:
        try:
            payload = self.store.get(model_id)
        except StoreUnavailable:
            with self._lock:
                copy = self._copies.peek(model_id)
            if copy is None:
                raise
            return copy
        except ModelNotFound:
            self._forget(model_id)
            raise
        self._remember(model_id, payload)
        return payload

    def delete(self, model_id: str) -> None:
        self._forget(model_id)
        self.store.delete(model_id)

    def available(self) -> bool:
        return self.store.available()

    def status(self) -> str:
        return self.store.status()

"""The model stores: atomic, ids checked, fallback copies only while the store is down."""

from __future__ import annotations

import pytest

from service.errors import ModelNotFound, StoreUnavailable
from service.storage.models import DirectoryModelStore, FallbackCopies, is_model_id, new_model_id


def test_directory_store_is_atomic_and_refuses_foreign_ids(tmp_path):
    store = DirectoryModelStore(tmp_path / "models")
    model_id = new_model_id()
    assert is_model_id(model_id) and not is_model_id("../../etc/passwd")
    store.put(model_id, b"payload")
    store.put(model_id, b"payload 2")
    assert store.get(model_id) == b"payload 2"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [f"{model_id}.rntk"]
    for bad in ("../../etc/passwd", "x" * 32 + "/..", "nope", model_id + "\n"):
        with pytest.raises(ModelNotFound):
            store.get(bad)
    store.delete(model_id)
    with pytest.raises(ModelNotFound):
        store.delete(model_id)


@pytest.mark.parametrize("suffix", ["\n", "\r", "\r\n", " ", "\x00", "a"])
def test_a_model_id_followed_by_anything_is_not_a_model_id(suffix):
    model_id = new_model_id()
    assert is_model_id(model_id)
    assert not is_model_id(model_id + suffix)
    assert not is_model_id(suffix + model_id)


def test_fallback_copies_serve_only_while_the_store_is_down():
    class Flaky:
        kind = "flaky"

        def __init__(self) -> None:
            self.data: dict[str, bytes] = {}
            self.down = False

        def _check(self) -> None:
            if self.down:
                raise StoreUnavailable("down", 1)

        def put(self, k, v):
            self._check()
            self.data[k] = v

        def get(self, k):
            self._check()
            if k not in self.data:
                raise ModelNotFound(k)
            return self.data[k]

        def delete(self, k):
            self._check()
            del self.data[k]

        def available(self):
            return not self.down

        def status(self):
            return "unreachable" if self.down else "ok"

    inner = Flaky()
    store = FallbackCopies(inner, max_bytes=10)
    store.put("a", b"12345")
    inner.data["b"] = b"67890"
    inner.data.pop("a")  # deleted elsewhere: the store's word wins while it answers
    with pytest.raises(ModelNotFound):
        store.get("a")
    assert store.get("b") == b"67890"
    inner.down = True
    assert store.get("b") == b"67890"
    with pytest.raises(StoreUnavailable):
        store.get("a")

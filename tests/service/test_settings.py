"""Settings come from the environment and fail fast on unsafe values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Settings


@pytest.mark.parametrize("env,value", [
    ("RNTK_REDIS_URL", "http://localhost:6379"), ("RNTK_BLOCK_SIZE", "0"), ("RNTK_COMPUTE_SLOTS", "0"),
    ("RNTK_MAX_BODY_BYTES", "10"), ("RNTK_REDIS_COOLDOWN_MAX_S", "0.001"),
])
def test_settings_fail_fast_on_unsafe_values(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNTK_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RNTK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RNTK_MAX_SEQUENCES", "12")
    s = Settings()
    assert (s.redis_url, s.data_dir, s.max_sequences) == ("redis://127.0.0.1:1/0", tmp_path, 12)
    monkeypatch.setenv("RNTK_REDIS_URL", "")
    assert Settings().redis_url is None

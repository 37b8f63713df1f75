"""The service's configuration: one typed, validated `Settings` object.

Every knob is an environment variable with the ``RNTK_`` prefix (``RNTK_REDIS_URL``,
``RNTK_DATA_DIR``, ``RNTK_BLOCK_SIZE`` ...). Values are checked when the app is
created, so a bad deployment fails at start-up rather than on the first request.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """All service settings; see each field's description (also in the README)."""

    model_config = SettingsConfigDict(env_prefix="RNTK_", extra="ignore", frozen=True)

    # Storage ---------------------------------------------------------------
    redis_url: Optional[str] = Field(
        None,
        description="Redis for the block cache and the model store (redis://, rediss:// or unix://). "
        "Unset: in-process LRU cache and models in `data_dir`.",
    )
    data_dir: Path = Field(
        Path("var/rntk"), description="Directory of the embedded model store (used without Redis)."
    )
    redis_prefix: str = Field("rntk:", min_length=1, max_length=64, description="Prefix of every Redis key.")
    redis_socket_timeout_s: float = Field(2.0, gt=0, le=60, description="Timeout of one Redis command.")
    redis_connect_timeout_s: float = Field(0.5, gt=0, le=60, description="Timeout of a Redis connect.")
    redis_retries: int = Field(1, ge=0, le=10, description="Retries of a failed Redis command (exponential backoff).")
    redis_cooldown_s: float = Field(
        1.0, gt=0, le=300,
        description="After Redis fails, skip it for this long before trying again (doubles up to the max).",
    )
    redis_cooldown_max_s: float = Field(15.0, gt=0, le=3600, description="Longest pause between Redis retries.")

    # Block cache -----------------------------------------------------------
    block_size: int = Field(256, ge=1, le=8192, description="Sequences per Gram block (the unit of caching).")
    cache_ttl_s: int = Field(7 * 24 * 3600, ge=0, description="Lifetime of a cached block; 0 keeps it until evicted.")
    cache_max_bytes: int = Field(
        512 * MiB, ge=0, description="Byte budget of the in-process block cache (LRU); 0 disables it."
    )
    cache_max_entry_bytes: int = Field(
        64 * MiB, ge=1, description="Blocks larger than this are not cached (Redis or in-process)."
    )
    write_behind_max_bytes: int = Field(
        256 * MiB, ge=0,
        description="With Redis: bytes of new blocks that may wait for a background writer rather than be "
        "written on the request's path; 0 writes them on the request's path.",
    )
    repeat_cache_max_bytes: int = Field(
        64 * MiB, ge=0,
        description="Byte budget, per worker, of whole answers kept for exact repeats of Gram requests; "
        "0 disables it.",
    )

    # Model store -----------------------------------------------------------
    model_ttl_s: int = Field(0, ge=0, description="Lifetime of a stored model in Redis; 0 keeps it forever.")
    model_fallback_bytes: int = Field(
        64 * MiB, ge=0,
        description="In-process copies of recently used models, served only while the model store is unreachable.",
    )

    # Compute ---------------------------------------------------------------
    compute_slots: int = Field(2, ge=1, le=64, description="Requests computing at once (threads).")
    compute_queue: int = Field(8, ge=0, le=10_000, description="Requests waiting for a slot before 503s.")
    parse_processes: int = Field(1, ge=0, le=64, description="Worker processes that parse large JSON bodies "
                                                            "(0: threads only, which hold the GIL while parsing).")
    retry_after_s: int = Field(2, ge=1, le=3600, description="Retry-After of a 503 answer.")
    warmup: bool = Field(True, description="Compile the kernels at start-up (readyz waits for it).")

    # Request limits --------------------------------------------------------
    max_body_bytes: int = Field(64 * MiB, ge=1024, le=1024 * MiB, description="Largest request body.")
    max_sequences: int = Field(20_000, ge=1, description="Most sequences in one batch (X, Z).")
    max_length: int = Field(10_000, ge=1, description="Longest sequence (steps).")
    max_total_steps: int = Field(
        4_000_000, ge=1, description="Most steps over all sequences of a request."
    )
    max_gram_entries: int = Field(
        16_000_000, ge=1,
        description="Most entries N x M of one Gram (4000 x 4000: 128 MB per kernel in float64).",
    )
    max_pair_steps: int = Field(
        20_000_000_000, ge=1,
        description="Most pair-steps (SPEC §2, times the directions) one request may compute.",
    )

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: Optional[str]) -> Optional[str]:
        if value is None or value.strip() == "":
            return None
        scheme = urlparse(value).scheme
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"must start with redis://, rediss:// or unix://, got scheme {scheme!r}")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> "Settings":
        if self.redis_cooldown_max_s < self.redis_cooldown_s:
            raise ValueError("redis_cooldown_max_s must be >= redis_cooldown_s")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings read from the environment, once per process."""
    return Settings()

"""Everything one app instance holds, built from `Settings`: stores, cache, slots, services.

`Services.build` picks the backends: with ``redis_url`` the block cache and the
model store share one guarded Redis connection pool; without it, an
in-process LRU and a model directory. Nothing here connects at build time, so
an app can be created while Redis is down and becomes whole when it returns.
"""

from __future__ import annotations

import gc
import logging
import threading
from dataclasses import dataclass, field
from typing import Optional

from rntk_core import RNTKParams, gram, gram_diagonal

from .api.body_parsing import BodyParser
from .api.schemas import Dependency, Readiness
from .blockcache.assembly import BlockGram
from .blockcache.codec import EncodedBlocks
from .blockcache.stores import BlockCache, MemoryBlockCache, RedisBlockCache
from .blockcache.write_behind import WriteBehindCache
from .kernels.gram import GramService
from .kernels.krr import KrrService
from .kernels.slots import ComputeSlots
from .metrics import Metrics
from .repeats.cache import RepeatCache
from .settings import Settings
from .storage.models import DirectoryModelStore, FallbackCopies, ModelStore, RedisModelStore
from .storage.redis_link import RedisLink

log = logging.getLogger("rntk.service")


@dataclass
class Services:
    """The app's long-lived objects (one per app, shared by all requests)."""

    settings: Settings
    metrics: Metrics
    cache: BlockCache
    store: ModelStore
    slots: ComputeSlots
    gram: GramService
    krr: KrrService
    repeats: RepeatCache = field(default_factory=lambda: RepeatCache(0))
    link: Optional[RedisLink] = None
    parser: BodyParser = field(default_factory=lambda: BodyParser(0))
    compiled: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        """Create the backends the settings ask for."""
        metrics = Metrics()
        link = None
        cache: BlockCache
        store: ModelStore
        if settings.redis_url:
            link = RedisLink(settings)
            cache = EncodedBlocks(RedisBlockCache(link, settings.cache_ttl_s, settings.cache_max_entry_bytes))
            if settings.write_behind_max_bytes:
                cache = writes = WriteBehindCache(cache, settings.write_behind_max_bytes)
                metrics.watch_cache_writes(lambda: writes.waiting_bytes)
            store = RedisModelStore(link, settings.model_ttl_s, settings.retry_after_s)
            metrics.watch_dependency("redis", lambda: link.breaker.is_open)
        else:
            cache = memory = MemoryBlockCache(settings.cache_max_bytes, settings.cache_ttl_s,
                                              settings.cache_max_entry_bytes)
            metrics.watch_in_process_cache("blocks", lambda: memory.size_bytes, lambda: len(memory))
            store = DirectoryModelStore(settings.data_dir / "models")
        repeats = RepeatCache(settings.repeat_cache_max_bytes)
        metrics.watch_in_process_cache("answers", lambda: repeats.size_bytes, lambda: len(repeats))
        store = FallbackCopies(store, settings.model_fallback_bytes)
        blocks = BlockGram(cache, settings.block_size, metrics)
        slots = ComputeSlots(settings.compute_slots, settings.compute_queue, settings.retry_after_s, metrics)
        return cls(
            settings=settings, metrics=metrics, cache=cache, store=store, slots=slots,
            gram=GramService(blocks, settings), krr=KrrService(blocks, store, settings),
            repeats=repeats, link=link, parser=BodyParser(settings.parse_processes),
        )

    def warm_up(self) -> None:
        """Run every kernel once on a tiny input so Numba loads (or compiles) them now."""
        xs = [[0.1, 0.2, 0.3], [0.5, -0.4]]
        for params in (RNTKParams(), RNTKParams(activation="erf", sigma_h=0.1, direction="bidirectional")):
            gram(xs, params=params, output="both")
            gram(xs, xs[:1], params=params, output="both")
            gram_diagonal(xs, params=params, output="both")
        self.parser.warm_up()
        self.ready()

    def ready(self) -> None:
        """Mark the service ready, and exempt what start-up built from the garbage collector's full passes.

        The modules, compiled kernels and app objects loaded by then are some
        hundreds of thousands of objects that live as long as the process; a
        full collection walking them all held the GIL, and so the event loop,
        for 70-260 ms under bursts of requests (measured on an AMD EPYC).
        Collected once, then frozen (`gc.freeze`), they are no longer walked.
        """
        gc.collect()
        gc.freeze()
        self.compiled.set()
        log.info("kernels ready")

    def readiness(self) -> Readiness:
        """Compiled? Cache and store reachable? (May ping Redis: call off the event loop.)"""
        cache = Dependency(kind=self.cache.kind, status=self.cache.status())
        store = Dependency(kind=self.store.kind, status=self.store.status())
        if not self.compiled.is_set():
            status = "starting"
        elif cache.status == "unreachable" or store.status == "unreachable":
            status = "degraded"
        else:
            status = "ready"
        return Readiness(status=status, compiled=self.compiled.is_set(), cache=cache, model_store=store)

    def close(self) -> None:
        """Stop the compute pool, finish the cache's writes and release connections."""
        self.slots.shutdown()
        self.parser.close()
        self.cache.close()
        if self.link is not None:
            self.link.close()

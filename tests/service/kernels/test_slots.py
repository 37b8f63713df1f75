"""Compute slots: a bounded queue, refusals at once, places given back."""

from __future__ import annotations

import asyncio
import threading

import pytest

from service.kernels.slots import ComputeSlots
from service.errors import Overloaded


def test_slots_refuse_beyond_the_queue_and_release_on_cancel():
    async def scenario() -> None:
        slots = ComputeSlots(slots=1, queue=1, retry_after_s=7)
        gate = threading.Event()
        running = asyncio.create_task(slots.run(gate.wait))
        waiting = asyncio.create_task(slots.run(lambda: 42))
        await asyncio.sleep(0.05)
        assert slots.admitted == 2
        with pytest.raises(Overloaded) as refused:
            await slots.run(lambda: 0)
        assert refused.value.headers == {"Retry-After": "7"}
        waiting.cancel()  # a client that went away while queued gives its place back
        await asyncio.sleep(0.05)
        assert slots.admitted == 1
        gate.set()
        assert await running is True
        assert slots.admitted == 0
        assert await slots.run(lambda: 5) == 5
        slots.shutdown()
        assert await slots.run(lambda: 6) == 6  # a new lifespan gets a new pool
        slots.shutdown()

    asyncio.run(scenario())

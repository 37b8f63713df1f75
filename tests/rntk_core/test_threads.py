"""Several threads may call the core at once, and it releases the GIL while it computes."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from rntk_core import RNTKParams, gram
from rntk_core.config import PARALLEL_MIN_STEPS, parallel_region

RNG = np.random.default_rng(3)


def test_concurrent_calls_give_the_serial_answers():
    batches = [[RNG.normal(size=(RNG.integers(5, 60), 2)) for _ in range(40)] for _ in range(6)]
    params = [RNTKParams(), RNTKParams(activation="erf", n_layers=2, direction="bidirectional")] * 3
    serial = [gram(b, params=p) for b, p in zip(batches, params)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(3):
            concurrent = list(pool.map(lambda bp: gram(bp[0], params=bp[1]), zip(batches, params)))
            for got, want in zip(concurrent, serial):
                assert np.array_equal(got, want)


def test_python_threads_run_while_a_gram_computes():
    X = [RNG.normal(size=400) for _ in range(600)]
    gram(X[:2])
    done = threading.Event()
    ticks = 0

    def compute():
        gram(X)
        done.set()

    worker = threading.Thread(target=compute)
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    assert ticks >= 20, f"the main thread ran only {ticks} times while the Gram computed"


def test_small_work_runs_on_the_calling_thread_alone_and_the_thread_count_comes_back():
    before = numba.get_num_threads()
    with parallel_region(PARALLEL_MIN_STEPS - 1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with parallel_region(PARALLEL_MIN_STEPS):
        assert numba.get_num_threads() == before
    small = [RNG.normal(size=30) for _ in range(10)]
    gram(small)
    assert numba.get_num_threads() == before

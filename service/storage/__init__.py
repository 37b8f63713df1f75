"""State outside the process: the model store (a directory or Redis), the shared Redis link and its
circuit breaker.

Imports redis, lru, settings and errors.
"""

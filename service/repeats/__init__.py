"""Whole answers kept for exact repeats of requests, and the ASGI layer that serves them.

Imports wire, lru and metrics.
"""

"""Gram blocks cached by content: their keys, a Gram's assembly from them, and the stores behind one
protocol (in-process, Redis, written behind).

Imports rntk_core's public names, storage.redis_link, lru, metrics and errors.
"""

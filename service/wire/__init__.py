"""Bytes on the wire: request bodies (JSON, npz) in, answers (JSON, npy, npz) out.

Imports numpy, orjson, pydantic, rntk_core's public names and errors; knows no route.
"""

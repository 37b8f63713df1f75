"""The HTTP surface: routes, their dependencies, request and response schemas, middleware.

Imports kernels, wire, errors, container and settings; nothing here computes.
"""

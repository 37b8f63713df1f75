"""What each endpoint does apart from HTTP: the Gram and kernel-ridge services, their admission
(limits, compute slots) and the boundary to rntk_core.

Imports rntk_core's public names, blockcache, storage, wire and errors.
"""

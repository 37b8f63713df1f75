"""rntk service: the `rntk_core` kernels as a shared, cached, bounded HTTP service.

The ASGI app is `service.app:app`; `service.app.create_app` builds one from a
`service.settings.Settings`. Nothing in this package knows how the kernels are
computed: it validates requests, cuts Grams into cacheable blocks, bounds the
work, stores fitted models and maps errors to HTTP.
"""

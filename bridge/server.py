"""Starting a server process: R, the registry, the app, waitress."""

import logging

from .app import create_app
from .registry import Registry
from .rsession import RSession

log = logging.getLogger(__name__)


def build(settings):
    """R session, loaded registry and app for this process."""
    session = RSession()
    registry = Registry(settings.models, session)
    registry.scan()
    if settings.reload_interval > 0:
        registry.watch(settings.reload_interval)
    return create_app(registry), registry


def serve(settings):
    import waitress

    app, registry = build(settings)
    log.info("serving %d model(s) from %s on http://%s:%d",
             len(registry.models()), settings.models, settings.host, settings.port)
    waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads,
                   ident="r-bridge")

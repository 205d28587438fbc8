"""Starting a server process: R, the registry, the app, waitress."""

import logging

from .app import create_app
from .health import Readiness
from .lock import ModelLock
from .registry import Registry
from .rsession import RSession

log = logging.getLogger(__name__)


def build(settings, readiness=None):
    """R session, loaded registry and app for this process. `readiness`
    (health.Readiness) turns ready once the first scan is done."""
    readiness = readiness or Readiness()
    session = RSession()
    registry = Registry(settings.models, session, lock=ModelLock.from_settings(settings))
    registry.scan()
    readiness.set_ready()
    if settings.reload_interval > 0:
        registry.watch(settings.reload_interval)
    return create_app(registry, settings, readiness), registry


def serve(settings):
    import waitress

    app, registry = build(settings)
    log.info("serving %d model(s) from %s on http://%s:%d",
             len(registry.models()), settings.models, settings.host, settings.port)
    waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads,
                   ident="r-bridge",
                   # waitress refuses Content-Length >= this before reading the body
                   max_request_body_size=settings.max_body_bytes + 1,
                   max_request_header_size=settings.max_header_bytes)

"""Starting a server process: R, the registry, the app, waitress."""

import logging
import warnings

from . import plumber
from .app import create_app
from .errors import PlumberLoadError
from .registry import Registry
from .rsession import RSession

log = logging.getLogger(__name__)


def build(settings):
    """R session, loaded registry and app for this process."""
    # rpy2 warns that R, started off the main thread, owns SIGINT: we keep
    # Python's own handlers, so that is expected here.
    warnings.filterwarnings("ignore", message="R is not initialized by the main thread")
    session = RSession()
    registry = Registry(settings.models, session)
    registry.scan()
    if settings.reload_interval > 0:
        registry.watch(settings.reload_interval)
    return create_app(registry, plumber.load(settings, session)), registry


def serve(settings):
    import waitress

    try:
        app, registry = build(settings)
    except PlumberLoadError as exc:
        raise SystemExit(f"error: {exc.description}")
    log.info("serving %d model(s) from %s on http://%s:%d",
             len(registry.models()), settings.models, settings.host, settings.port)
    waitress.serve(app, host=settings.host, port=settings.port, threads=settings.threads,
                   ident="r-bridge")

"""Starting the server: the R worker pool, the registry, the app, the HTTP front.

One process speaks HTTP (waitress) and never embeds R; `--workers N` R
worker processes (bridge/workers/) do the R work. The front starts the
workers (R itself and any Plumber files: seconds), opens its port, and only
then scans the model folder, on a thread of its own: /healthz answers
whatever the model files do, each model is served as soon as it has
loaded, and /readyz turns 200 once the first scan is done.
"""

import logging
import threading

from . import metrics, plumberfiles
from .http.app import create_app
from .http.health import Readiness
from .manifest import Manifest
from .registry import Registry
from .service import Service
from .workers.pool import Pool
from .workers.remote import RemotePlumber

log = logging.getLogger(__name__)


def build(settings, readiness=None):
    """Worker pool, registry (not scanned yet: `first_scan` does it), the
    service every protocol calls, and the app: (app, registry, service).
    `readiness` (health.Readiness) turns ready once the first scan is done."""
    readiness = readiness or Readiness()
    files = plumberfiles.find_plumber_files(settings.plumber_dir, settings.plumber)
    pool = Pool(settings, plumber_files=files)
    pool.dispatcher.on_batch.append(metrics.observe_batch)
    pool.start()
    registry = Registry(settings.models, pool, manifest=Manifest.from_settings(settings),
                        follow_symlinks=settings.follow_symlinks,
                        default_timeout=settings.predict_timeout,
                        pinned_versions=settings.pinned_versions)
    plumber_apis = (RemotePlumber(pool, files, settings.predict_timeout,
                                  pinned=settings.plumber_workers == 1) if files else None)
    service = Service.from_settings(registry, settings, readiness)
    app = create_app(registry, settings, readiness, plumber_apis=plumber_apis, service=service)
    return app, registry, service


def first_scan(registry, settings, readiness):
    """Loads the model folder, then says ready and starts watching it. On a
    thread of its own, so the port is open meanwhile."""
    def run():
        try:
            registry.scan()
        except Exception:
            log.exception("first scan of the model folder failed")
        log.info("serving %d model(s) from %s with %d R worker(s)",
                 len(registry.models()), settings.models, len(registry.pool.handles))
        readiness.set_ready()
        if settings.reload_interval > 0:
            registry.watch(settings.reload_interval)

    thread = threading.Thread(target=run, name="first-scan", daemon=True)
    thread.start()
    return thread


def serve(settings):
    """Serves until SIGTERM/SIGINT, then drains (bridge/http/front.py),
    stops the R workers and returns 0. SIGHUP rescans the model folder."""
    from .http.front import Front

    readiness = Readiness()
    app, registry, service = build(settings, readiness)
    try:
        front = Front(app, settings, readiness, on_reload=registry.scan)  # binds the port
        first_scan(registry, settings, readiness)
        return front.run()
    finally:
        # The queued observers (the prediction log) write what they hold.
        if not service.close(timeout=settings.grace_period):
            log.warning("observers not done within the grace period; queued records lost")
        registry.stop()
        registry.pool.stop()

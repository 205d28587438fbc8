"""Starting the server: the R worker pool, the registry, the app, the HTTP front.

One process speaks HTTP (waitress) and never embeds R; `--workers N` R
worker processes (bridge/workers/) do the R work. The front starts the
workers, scans the model folder (loading each file into every worker),
then serves.
"""

import logging
import os
import signal
import threading
import time

from . import metrics, plumber
from .app import create_app
from .health import Readiness
from .lock import ModelLock
from .registry import Registry
from .workers.pool import Pool
from .workers.remote import RemotePlumber

log = logging.getLogger(__name__)


def build(settings, readiness=None):
    """Worker pool, loaded registry and app. `readiness` (health.Readiness)
    turns ready once the first scan is done."""
    readiness = readiness or Readiness()
    files = plumber.find_plumber_files(settings.plumber_dir, settings.plumber)
    pool = Pool(settings, plumber_files=files)
    pool.dispatcher.on_batch.append(metrics.observe_batch)
    pool.start()
    registry = Registry(settings.models, pool, lock=ModelLock.from_settings(settings),
                        follow_symlinks=settings.follow_symlinks,
                        default_timeout=settings.predict_timeout)
    registry.scan()
    plumber_apis = RemotePlumber(pool, files, settings.predict_timeout) if files else None
    app = create_app(registry, settings, readiness, plumber_apis=plumber_apis)
    readiness.set_ready()
    if settings.reload_interval > 0:
        registry.watch(settings.reload_interval)
    return app, registry


def serve(settings):
    from waitress.server import create_server

    readiness = Readiness()
    app, registry = build(settings, readiness)
    server = create_server(app, host=settings.host, port=settings.port, threads=settings.threads,
                           ident="r-bridge", channel_timeout=max(60, settings.predict_timeout * 2),
                           connection_limit=1000,
                           # refuses a Content-Length >= this before reading the body
                           max_request_body_size=settings.max_body_bytes + 1,
                           max_request_header_size=settings.max_header_bytes)

    def drain(signum, frame):
        readiness.set_draining()
        threading.Thread(target=_drain_and_exit, args=(server, registry, settings.grace_period),
                         daemon=True).start()

    def rescan(signum, frame):
        threading.Thread(target=registry.scan, daemon=True).start()

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    signal.signal(signal.SIGHUP, rescan)
    log.info("serving %d model(s) from %s on http://%s:%d with %d R worker(s)",
             len(registry.models()), settings.models, settings.host, settings.port,
             len(registry.pool.handles))
    try:
        server.run()
    except (SystemExit, KeyboardInterrupt):
        pass
    return 0


def _drain_and_exit(server, registry, grace):
    log.info("draining for up to %.0f s", grace)
    deadline = time.monotonic() + grace
    # NOTE: waitress counts open channels in its socket map; the listener is one.
    while time.monotonic() < deadline and _busy_channels(server):
        time.sleep(0.05)
    log.info("drained; exiting")
    registry.pool.stop()
    registry.snapshots.close()
    os._exit(0)


def _busy_channels(server):
    return [ch for ch in list(server._map.values())
            if ch is not server and getattr(ch, "requests", None)]

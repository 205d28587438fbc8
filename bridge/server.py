"""Starting a server process: R, the registry, the app, and the HTTP server.

One worker (the default) is waitress in this process. Several workers run
under gunicorn's arbiter (bridge/workers.py): each worker process starts its
own R after the fork, and a worker that dies is replaced.
"""

import logging
import os
import signal
import threading
import time

from . import plumber
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
    session = RSession(max_batch_rows=settings.batch_max_rows,
                       max_wait=settings.batch_max_wait_ms / 1000.0,
                       max_queue=settings.max_queue,
                       default_timeout=settings.predict_timeout,
                       max_response_bytes=settings.max_response_bytes)
    registry = Registry(settings.models, session, lock=ModelLock.from_settings(settings),
                        follow_symlinks=settings.follow_symlinks)
    registry.scan()
    readiness.set_ready()
    if settings.reload_interval > 0:
        registry.watch(settings.reload_interval)
    return create_app(registry, settings, readiness,
                      plumber_apis=plumber.load(settings, session)), registry


def serve(settings):
    if settings.workers > 1:
        from .workers import serve_workers

        return serve_workers(settings)
    return serve_waitress(settings)


def serve_waitress(settings):
    from waitress.server import create_server

    readiness = Readiness()
    app, registry = build(settings, readiness)
    server = create_server(app, host=settings.host, port=settings.port, threads=settings.threads,
                           ident="r-bridge", channel_timeout=max(60, settings.predict_timeout * 2),
                           # refuses a Content-Length >= this before reading the body
                           max_request_body_size=settings.max_body_bytes + 1,
                           max_request_header_size=settings.max_header_bytes)

    def drain(signum, frame):
        readiness.set_draining()
        # Finish what is in flight (waitress keeps its channels until their
        # responses are written), then stop. Runs off the signal handler.
        threading.Thread(target=_drain_and_exit, args=(server, settings.grace_period),
                         daemon=True).start()

    signal.signal(signal.SIGTERM, drain)
    log.info("serving %d model(s) from %s on http://%s:%d",
             len(registry.models()), settings.models, settings.host, settings.port)
    try:
        server.run()
    except (SystemExit, KeyboardInterrupt):
        pass
    return 0


def _drain_and_exit(server, grace):
    log.info("SIGTERM: draining for up to %.0f s", grace)
    deadline = time.monotonic() + grace
    # NOTE: waitress counts open channels in its socket map; the listener is one.
    while time.monotonic() < deadline and _busy_channels(server):
        time.sleep(0.05)
    log.info("drained; exiting")
    os._exit(0)


def _busy_channels(server):
    return [ch for ch in list(server._map.values())
            if ch is not server and getattr(ch, "requests", None)]


def start_watchdog(session, timeout, grace=10.0):
    """Exits this worker when one R call outlives its timeout by `grace`
    seconds: it is stuck in compiled code that no interrupt reaches, and
    only a new process frees R. The arbiter starts a fresh worker."""
    def watch():
        while True:
            time.sleep(1.0)
            since = session.busy_since
            if since is not None and time.monotonic() - since > timeout + grace:
                log.critical("an R call has run %.0f s and ignores interrupts; replacing this worker",
                             time.monotonic() - since)
                os._exit(3)

    threading.Thread(target=watch, name="r-watchdog", daemon=True).start()

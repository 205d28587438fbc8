"""Several worker processes on one port, under gunicorn's arbiter.

gunicorn (as MLflow uses on Linux) forks the workers before any R exists;
each worker then starts its own embedded R in `load()`. The arbiter replaces
a worker that dies, and on SIGTERM stops accepting and lets workers finish
their requests within the graceful timeout.
"""

import logging
import os
import tempfile

from gunicorn.app.base import BaseApplication

from . import metrics

log = logging.getLogger(__name__)


class BridgeApplication(BaseApplication):
    def __init__(self, settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        s = self.settings
        options = {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            "worker_class": "gthread",
            "threads": s.threads,
            # The arbiter's heartbeat runs on the worker's main thread, which R
            # never blocks; stuck R calls are caught by our own watchdog.
            "timeout": max(120, int(s.predict_timeout * 3)),
            "graceful_timeout": int(s.grace_period),
            "keepalive": 5,
            "preload_app": False,
            "proc_name": "r-bridge",
            # Several bridges on one host must not fight over one control socket.
            "control_socket_disable": True,
            "loglevel": s.log_level.lower(),
            # a dead worker's queue depth must stop counting in /metrics
            "child_exit": lambda arbiter, worker: metrics.mark_process_dead(worker.pid),
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        # In the worker, after the fork: R starts here, never in the arbiter.
        from .server import build, start_watchdog

        app, registry = build(self.settings)
        start_watchdog(registry.session, self.settings.predict_timeout)
        return app


def serve_workers(settings):
    log.info("starting %d workers on http://%s:%d", settings.workers, settings.host, settings.port)
    # Before any worker exists: every worker writes its metrics there, /metrics adds them up.
    metrics.prepare_multiprocess_dir(os.environ.get(metrics.MULTIPROC_ENV)
                                     or tempfile.mkdtemp(prefix="r-bridge-metrics-"))
    BridgeApplication(settings).run()
    return 0

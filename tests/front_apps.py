"""A small Falcon app, without R, served by bridge.http.front: the server
that tests/test_front_server.py attacks, signals and drains.

    python -m tests.front_apps      # settings from BRIDGE_* variables

GET  /fast                   {"ok": true}
GET  /slow?seconds=S&id=X    sleeps S seconds, then {"id": X, "slept": S}
GET  /inflight               {"started": n, "running": m} of /slow calls
POST /echo                   {"bytes": length of the body read}; ?back=true: the body
GET  /readyz                 200 or 503 from health.Readiness, like the bridge's
GET  /reloads                {"started": n, "finished": m} calls of on_reload
"""

import logging
import os
import sys
import threading
import time

import falcon

from bridge.http.front import serve_front
from bridge.http.health import Readiness
from bridge.settings import Settings

# How long on_reload takes: a rescan of the model folder is not instant.
RELOAD_SECONDS = float(os.environ.get("FRONT_APP_RELOAD_SECONDS", "0.5"))


class Counter:
    def __init__(self):
        self._lock = threading.Lock()
        self.started = self.finished = 0

    def start(self):
        with self._lock:
            self.started += 1

    def finish(self):
        with self._lock:
            self.finished += 1

    def as_dict(self):
        with self._lock:
            return {"started": self.started, "finished": self.finished,
                    "running": self.started - self.finished}


class Fast:
    def on_get(self, req, resp):
        resp.media = {"ok": True}


class Slow:
    def __init__(self, calls):
        self._calls = calls

    def on_get(self, req, resp):
        seconds = req.get_param_as_float("seconds", required=True, min_value=0, max_value=120)
        self._calls.start()
        try:
            time.sleep(seconds)
        finally:
            self._calls.finish()
        resp.media = {"id": req.get_param("id"), "slept": seconds}


class Report:
    def __init__(self, counter):
        self._counter = counter

    def on_get(self, req, resp):
        resp.media = self._counter.as_dict()


class Echo:
    def on_post(self, req, resp):
        body = req.bounded_stream.read()
        if req.get_param_as_bool("back"):
            resp.data = body  # the body itself, as the answer
            return
        resp.media = {"bytes": len(body)}


class Ready:
    def __init__(self, readiness):
        self._readiness = readiness

    def on_get(self, req, resp):
        if not self._readiness.ready:
            resp.status = 503
        resp.media = {"status": self._readiness.state}


def create_app(readiness, reloads):
    calls = Counter()
    app = falcon.App()
    app.add_route("/fast", Fast())
    app.add_route("/slow", Slow(calls))
    app.add_route("/inflight", Report(calls))
    app.add_route("/echo", Echo())
    app.add_route("/readyz", Ready(readiness))
    app.add_route("/reloads", Report(reloads))
    return app


def main():
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    readiness, reloads = Readiness(), Counter()

    def reload():
        reloads.start()
        time.sleep(RELOAD_SECONDS)
        reloads.finish()

    app = create_app(readiness, reloads)
    readiness.set_ready()
    return serve_front(app, settings, readiness, on_reload=reload)


if __name__ == "__main__":
    sys.exit(main())

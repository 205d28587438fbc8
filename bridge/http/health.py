"""Liveness and readiness, as a load balancer or Kubernetes asks for them.

GET /healthz: the process answers HTTP (always 200; a hung process simply
does not answer, which is what a liveness probe detects).
GET /readyz: 200 only while this server should get traffic: its first
model folder scan is done and at least one R worker can take work; 503
while starting, while every R worker is being replaced, and while draining
for shutdown. Both are open without an API key.
"""

import threading

import orjson

STARTING, READY, DRAINING = "starting", "ready", "draining"


class Readiness:
    """starting -> ready -> draining, flipped by whoever runs the process:
    `set_ready()` once the first scan is done, `set_draining()` on SIGTERM.
    Draining is final: a process that drains does not come back."""

    def __init__(self, ready=False):
        self._state = READY if ready else STARTING
        self._lock = threading.Lock()

    @property
    def state(self):
        return self._state

    def set_ready(self):
        with self._lock:
            if self._state != DRAINING:
                self._state = READY

    def set_draining(self):
        with self._lock:
            self._state = DRAINING

    @property
    def ready(self):
        return self._state == READY

    def serving(self, pool):
        """Whether this server should get traffic: ready, and at least one R
        worker can take work. /readyz and the V2 readiness routes both ask this."""
        return self.ready and pool.available > 0


class Liveness:
    def on_get(self, req, resp):
        resp.data = b'{"status":"alive"}'


class ReadinessResource:
    def __init__(self, readiness, registry):
        self._readiness = readiness
        self._registry = registry

    def on_get(self, req, resp):
        pool = self._registry.pool
        body = {"status": self._readiness.state, "r": "up" if pool.available else "down",
                "r_workers": {"ready": pool.available, "total": len(pool.handles)},
                "models": len(self._registry.models())}
        if not self._readiness.serving(pool):
            resp.status = 503
            # A probe that is told when to come back does not hammer a starting process.
            resp.set_header("Retry-After", "1")
        resp.data = orjson.dumps(body)

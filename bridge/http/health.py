"""Liveness and readiness, as a load balancer or Kubernetes asks for them.

GET /healthz: the process answers HTTP (always 200; a hung process simply
does not answer, which is what a liveness probe detects).
GET /readyz: 200 only while this server should get traffic: its first
model folder scan is done and at least one R worker can take work; 503
while starting, while every R worker is being replaced, and while draining
for shutdown. Its body says why: "scan" is "running" until every file of
the first scan has loaded or failed (models are served as they load
meanwhile), then "complete"; "loading" counts the files loading now.
Both are open without an API key. What they say comes from
`Service.readiness()`, as V2's and MLflow's probes do.
"""

import orjson

from ..service.readiness import DRAINING, READY, STARTING, Readiness

__all__ = ["Liveness", "ReadinessResource", "Readiness", "STARTING", "READY", "DRAINING"]


class Liveness:
    def on_get(self, req, resp):
        resp.data = b'{"status":"alive"}'


class ReadinessResource:
    def __init__(self, service):
        self._service = service

    def on_get(self, req, resp):
        report = self._service.readiness()
        body = {"status": report.state, "r": "up" if report.workers_ready else "down",
                "r_workers": {"ready": report.workers_ready, "total": report.workers_total},
                "models": report.models, "scan": "complete" if report.scanned else "running",
                "loading": report.loading}
        if not report.serving:
            resp.status = 503
            # A probe that is told when to come back does not hammer a starting process.
            resp.set_header("Retry-After", "1")
        resp.data = orjson.dumps(body)

"""The metrics of HTTP requests (Falcon middleware) and GET /metrics.

Every request is counted and timed here by endpoint (a route template) and
model; what a prediction did (rows, R errors, per-protocol counts) is
counted by the service's metrics observer (bridge/metrics.py
`MetricsObserver`), once per call whatever the protocol.
"""

import time

from .. import metrics

ENDPOINTS = frozenset(("/healthz", "/readyz", "/metrics", "/models", "/invocations", "/ping",
                       "/health", "/v2/health/ready", "/v2/health/live"))


class MetricsResource:
    def on_get(self, req, resp):
        resp.data, resp.content_type = metrics.render()


class RequestMetrics:
    """Falcon middleware: counts and times every request."""

    def __init__(self, service):
        self._service = service

    def process_request(self, req, resp):
        req.context.metrics_started = time.perf_counter()

    def process_response(self, req, resp, resource, req_succeeded):
        started = req.context.get("metrics_started")
        if started is None:
            return
        metrics.observe_request(endpoint_of(req.path), self._model(req), resp.status_code,
                                time.perf_counter() - started)

    def _model(self, req):
        """The served model a request addressed; "" otherwise (so a caller
        cannot mint label values)."""
        call = req.context.get("call")
        if call is not None and call.model:
            return call.model
        name = model_in_path(req.path)
        return name if name and self._service.serves(name) else ""


def endpoint_of(path):
    """The route a path is for, also when it was refused before routing (401, 413)."""
    if path in ENDPOINTS:
        return path
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "models":
        return "/models/{name}"
    if len(parts) == 4 and parts[1] == "models" and parts[3] in ("predict", "forecast",
                                                                  "versions", "shadow"):
        return "/models/{name}/" + parts[3]
    if len(parts) == 6 and parts[1] == "models" and parts[3] == "versions" \
            and parts[5] in ("predict", "forecast"):
        return "/models/{name}/versions/{version}/" + parts[5]
    if len(parts) in (4, 5) and parts[1:3] == ["v2", "models"]:
        tail = parts[4] if len(parts) == 5 else ""
        if tail in ("", "ready", "infer"):
            return "/v2/models/{name}" + (f"/{tail}" if tail else "")
    if len(parts) in (6, 7) and parts[1:3] == ["v2", "models"] and parts[4] == "versions":
        tail = parts[6] if len(parts) == 7 else ""
        if tail in ("", "ready", "infer"):
            return "/v2/models/{name}/versions/{version}" + (f"/{tail}" if tail else "")
    return "other"


def model_in_path(path):
    """The {name} of /models/{name}[/...] or /v2/models/{name}[/...], or None."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "models":
        return parts[2]
    if len(parts) > 3 and parts[1:3] == ["v2", "models"]:
        return parts[3]
    return None

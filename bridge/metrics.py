"""Prometheus metrics: what the server counts, and GET /metrics.

They live in the HTTP front, the one process that sees every request (the R
workers report nothing themselves): each event is counted once, however many
workers there are. Series exist from the start at zero: the server-wide ones
when the server starts, a model's own once it loads.

Labels are kept to a bounded set: a model label is only ever the name of a
served model (never a name a caller made up), an endpoint label is a route
template.
"""

import threading
import time
from pathlib import Path

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ROW_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
REQUEST_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
REPLACED_REASONS = ("timeout", "memory", "died")
PREDICT_ENDPOINT = "/models/{name}/predict"


class _Metrics:
    def __init__(self):
        import prometheus_client
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        prometheus_client.disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "bridge_requests_total", "HTTP requests answered, by endpoint, model and status.",
            ["endpoint", "model", "status"], registry=r)
        self.latency = Histogram(
            "bridge_request_duration_seconds", "Time to answer a request, by endpoint and model.",
            ["endpoint", "model"], buckets=LATENCY_BUCKETS, registry=r)
        self.rows = Histogram(
            "bridge_request_rows", "Rows per predict request.",
            ["model"], buckets=ROW_BUCKETS, registry=r)
        self.batch_rows = Histogram(
            "bridge_batch_rows", "Rows per predict() call into R (after micro-batching).",
            ["model"], buckets=ROW_BUCKETS, registry=r)
        self.batch_requests = Histogram(
            "bridge_batch_requests", "Requests merged into one predict() call into R.",
            ["model"], buckets=REQUEST_BUCKETS, registry=r)
        self.queue_depth = Gauge(
            "bridge_queue_depth", "Requests waiting for a free R worker.", registry=r)
        self.workers_ready = Gauge(
            "bridge_r_workers_ready", "R worker processes that can take work now.", registry=r)
        self.workers_replaced = Counter(
            "bridge_r_workers_replaced_total", "R worker processes ended and started again, by "
            "reason (timeout: a call passed its deadline; memory: over --worker-memory; died).",
            ["reason"], registry=r)
        for reason in REPLACED_REASONS:
            self.workers_replaced.labels(reason)
        self.load_failures = Counter(
            "bridge_model_load_failures_total", "Model files that failed to load, by file.",
            ["file"], registry=r)
        self.r_errors = Counter(
            "bridge_r_errors_total", "Errors raised by R in predict(), by model and kind "
            "(input: R rejected the data; model: the model itself failed).",
            ["model", "kind"], registry=r)


_metrics = None
_metrics_lock = threading.Lock()


def _get():
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = _Metrics()
    return _metrics


# ---- what the rest of the bridge reports ------------------------------------------

def observe_request(endpoint, model, status, seconds):
    m = _get()
    m.requests.labels(endpoint, model, str(status)).inc()
    m.latency.labels(endpoint, model).observe(seconds)


def observe_rows(model, rows):
    _get().rows.labels(model).observe(rows)


def observe_batch(model, rows, requests):
    """One predict() call into R that served `requests` requests, `rows` rows."""
    m = _get()
    m.batch_rows.labels(model).observe(rows)
    m.batch_requests.labels(model).observe(requests)


def set_queue_depth(n):
    _get().queue_depth.set(n)


def model_loaded(model):
    """A model is served: its series start at zero."""
    m = _get()
    m.requests.labels(PREDICT_ENDPOINT, model, "200")
    m.latency.labels(PREDICT_ENDPOINT, model)
    m.rows.labels(model)
    m.batch_rows.labels(model)
    m.batch_requests.labels(model)
    for kind in ("input", "model"):
        m.r_errors.labels(model, kind)


def workers_ready(n):
    _get().workers_ready.set(n)


def worker_replaced(reason):
    _get().workers_replaced.labels(reason).inc()


def model_load_failed(file):
    _get().load_failures.labels(Path(file).name).inc()


def r_error(model, kind):
    _get().r_errors.labels(model, kind).inc()


def render():
    """(body, content type) of the Prometheus text format for /metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_get().registry), CONTENT_TYPE_LATEST


# ---- HTTP ---------------------------------------------------------------------------

class MetricsResource:
    def on_get(self, req, resp):
        resp.data, resp.content_type = render()


class RequestMetrics:
    """Falcon middleware: counts and times every request."""

    def __init__(self, registry):
        self._registry = registry

    def process_request(self, req, resp):
        req.context.metrics_started = time.perf_counter()
        self._queue_depth()

    def _queue_depth(self):
        depth = getattr(self._registry.pool, "queue_depth", None)
        if depth is not None:
            set_queue_depth(depth())

    def process_response(self, req, resp, resource, req_succeeded):
        started = req.context.get("metrics_started")
        if started is None:
            return
        self._queue_depth()
        model = served_model(req, self._registry)
        observe_request(endpoint_of(req.path), model, resp.status_code,
                        time.perf_counter() - started)
        rows = req.context.get("rows")
        if model and rows is not None:
            observe_rows(model, rows)
        exc = req.context.get("error")
        details = getattr(exc, "details", None) or {}
        if model and "r_message" in details:
            r_error(model, "input" if exc.status == 422 else "model")


def served_model(req, registry):
    """The model a request addressed, if it is served; "" otherwise (so a
    caller cannot mint label values)."""
    name = model_in_path(req.path)
    return name if name and name in registry else ""


ENDPOINTS = frozenset(("/healthz", "/readyz", "/metrics", "/models"))


def endpoint_of(path):
    """The route a path is for, also when it was refused before routing (401, 413)."""
    if path in ENDPOINTS:
        return path
    parts = path.split("/")
    if len(parts) == 3 and parts[1] == "models":
        return "/models/{name}"
    if len(parts) == 4 and parts[1] == "models" and parts[3] == "predict":
        return "/models/{name}/predict"
    return "other"


def model_in_path(path):
    """The {name} of /models/{name}[/predict], or None."""
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "models" else None

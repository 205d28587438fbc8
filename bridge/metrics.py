"""Prometheus metrics: what the server counts, and GET /metrics.

They live in the HTTP front, the one process that sees every request (the R
workers report nothing themselves): each event is counted once, however many
workers there are. Series exist from the start at zero: the server-wide ones
when the server starts, a model's own once it loads.

Labels are kept to a bounded set: a model label is only ever the name of a
served model (never a name a caller made up), an endpoint label is a route
template, a protocol label one of the service's protocols.

Two sources report here: the HTTP middleware (bridge/http/request_metrics.py:
every request by endpoint) and the service's `MetricsObserver` (every
prediction or forecast by model and protocol, rows, R errors). Neither
imports falcon from here.
"""

import threading
from pathlib import Path

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
ROW_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
REQUEST_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
REPLACED_REASONS = ("timeout", "memory", "died")
PREDICT_ENDPOINT = "/models/{name}/predict"
SERIES_PROTOCOLS = ("json", "csv", "v2", "mlflow", "forecast")  # a model's series exist from its load


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
        self.predictions = Counter(
            "bridge_predictions_total", "Calls of the data plane (predict, forecast) answered or "
            "refused, by model, protocol (json, csv, v2, mlflow, forecast, cli) and status: the "
            "service's status, the same for every protocol (bad input is 422 here also where V2 "
            "answers it 400 on the wire, which bridge_requests_total counts).",
            ["model", "protocol", "status"], registry=r)
        self.prediction_latency = Histogram(
            "bridge_prediction_duration_seconds", "Time from a call's arrival to its answer, by "
            "model and protocol.", ["model", "protocol"], buckets=LATENCY_BUCKETS, registry=r)
        self.observer_failures = Counter(
            "bridge_observer_failures_total", "Exceptions raised by an observer of the service's "
            "calls (caught: the caller never sees them), by observer.", ["observer"], registry=r)
        self.observer_dropped = Counter(
            "bridge_observer_dropped_total", "Events a queued observer (bridge/service/observers.py) "
            "dropped because its queue was full, by observer.", ["observer"], registry=r)
        self.log_dropped = Counter(
            "bridge_prediction_log_dropped_total", "Calls the prediction log (--log-predictions) "
            "did not record because its queue was full.", registry=r)
        self.log_rows = Counter(
            "bridge_prediction_log_rows_total", "Rows the prediction log wrote to Parquet files.",
            registry=r)
        self.log_lost = Counter(
            "bridge_prediction_log_lost_rows_total", "Rows the prediction log could not write "
            "(the folder refused the file), by model.", ["model"], registry=r)
        self.drift_psi = Gauge(
            "bridge_input_drift_psi", "Population stability index of an input's live values "
            "against the model's reference (docs/monitoring.md), by model, version, column.",
            ["model", "version", "column"], registry=r)
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
        self.requirement_mismatch = Gauge(
            "bridge_model_requirement_mismatch", "1 while a served model runs with a package at "
            "another version than it was saved with (--package-check warn), by model and package.",
            ["model", "package"], registry=r)
        self.shadow = Counter(
            "bridge_shadow_total", "Calls replayed on a model's shadow version (docs/versions.md), "
            "by model and outcome (compared, dropped: no idle R worker, the queue full or the "
            "version resting, error: the shadow version failed, timeout: it passed "
            "--shadow-timeout, primary_error: the routed version failed).",
            ["model", "outcome"], registry=r)
        self.shadow_latency = Histogram(
            "bridge_shadow_duration_seconds", "Time a shadow version took to answer a replayed "
            "call (off the request path), by model.", ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.shadow_agreement = Gauge(
            "bridge_shadow_agreement", "Share of compared rows whose non-numeric outputs the "
            "shadow version answered the same, by model.", ["model"], registry=r)
        self.shadow_difference = Gauge(
            "bridge_shadow_mean_abs_difference", "Mean absolute difference of numeric outputs "
            "between the shadow and the routed version, by model.", ["model"], registry=r)
        self.shadow_max_difference = Gauge(
            "bridge_shadow_max_abs_difference", "Largest absolute difference of a numeric output "
            "between the shadow and the routed version, by model.", ["model"], registry=r)
        self.r_errors = Counter(
            "bridge_r_errors_total", "Errors raised by R in predict(), by model and kind "
            "(input: R rejected the data; model: the model itself failed).",
            ["model", "kind"], registry=r)
        # (endpoint, model, status) -> (requests child, latency child): see observe_request.
        self.request_children = {}


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
    # NOTE: labels() costs ~5 us a call (a lock, a dict, str checks on each
    # value); the children are kept per label set instead, bounded as the
    # labels are (route templates, served names, statuses).
    m = _get()
    key = (endpoint, model, status)
    children = m.request_children.get(key)
    if children is None:
        children = m.request_children[key] = (m.requests.labels(endpoint, model, str(status)),
                                              m.latency.labels(endpoint, model))
    children[0].inc()
    children[1].observe(seconds)


def observe_batch(model, rows, requests):
    """One predict() call into R that served `requests` requests, `rows` rows."""
    m = _get()
    m.batch_rows.labels(model).observe(rows)
    m.batch_requests.labels(model).observe(requests)


def track_queue_depth(depth):
    """The queue depth gauge reads `depth()` whenever it is scraped (so it is
    never stale, and no request pays for it)."""
    def read():
        try:
            return depth()
        except Exception:  # a pool being stopped: a scrape must still answer
            return 0

    _get().queue_depth.set_function(read)


def observer_failed(observer):
    _get().observer_failures.labels(observer).inc()


def observer_dropped(observer):
    _get().observer_dropped.labels(observer).inc()


def shadow_outcome(model, outcome, stats=None, latency_ms=None):
    """One shadowed call (bridge/versions/shadow.py); `stats` its model's
    running comparison (ShadowStats.snapshot())."""
    m = _get()
    m.shadow.labels(model, outcome).inc()
    if latency_ms is not None:
        m.shadow_latency.labels(model).observe(latency_ms / 1000)
    if stats is not None:
        if stats.get("agreement") is not None:
            m.shadow_agreement.labels(model).set(stats["agreement"])
        if stats.get("mean_abs_difference") is not None:
            m.shadow_difference.labels(model).set(stats["mean_abs_difference"])
            m.shadow_max_difference.labels(model).set(stats["max_abs_difference"])
def prediction_log_dropped():
    _get().log_dropped.inc()


def prediction_log_written(rows):
    _get().log_rows.inc(rows)


def prediction_log_lost(model, rows):
    _get().log_lost.labels(model).inc(rows)


def drift_psi(model, version, column, value):
    _get().drift_psi.labels(model, version or "", column).set(value)


def model_loaded(model):
    """A model is served: its series start at zero."""
    m = _get()
    m.requests.labels(PREDICT_ENDPOINT, model, "200")
    m.latency.labels(PREDICT_ENDPOINT, model)
    for protocol in SERIES_PROTOCOLS:
        m.predictions.labels(model, protocol, "200")
        m.prediction_latency.labels(model, protocol)
    m.rows.labels(model)
    m.batch_rows.labels(model)
    m.batch_requests.labels(model)
    for kind in ("input", "model"):
        m.r_errors.labels(model, kind)


_mismatched = {}  # model -> packages with a mismatch series
_mismatch_lock = threading.Lock()


def requirement_mismatch(model, packages):
    """The packages a served model runs at another version than saved with
    (an empty list when it is unserved or reloaded without mismatch)."""
    m = _get()
    with _mismatch_lock:
        for package in _mismatched.pop(model, set()) - set(packages):
            m.requirement_mismatch.remove(model, package)
        for package in packages:
            m.requirement_mismatch.labels(model, package).set(1)
        if packages:
            _mismatched[model] = set(packages)


def workers_ready(n):
    _get().workers_ready.set(n)


def worker_replaced(reason):
    _get().workers_replaced.labels(reason).inc()


def model_load_failed(file):
    _get().load_failures.labels(Path(file).name).inc()


def render():
    """(body, content type) of the Prometheus text format for /metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(_get().registry), CONTENT_TYPE_LATEST


# ---- the service's observer --------------------------------------------------------

class MetricsObserver:
    """Counts every call the service answered or refused, by model and
    protocol: predictions, their latency, rows per request and R's errors.
    Runs on the caller's thread and never blocks it for more than
    Prometheus' own few-microsecond locks."""

    def __init__(self):
        # NOTE: prometheus_client's labels() cost ~15 us a call (3 per event);
        # the children are kept per label set instead (bounded: models are
        # served names, protocols and statuses a small set).
        self._children = {}

    def observe(self, event):
        if event.shadow:
            return  # a shadow version's answer, counted in bridge_shadow_total
        model, protocol = event.model or "", event.context.protocol
        key = (model, protocol, event.status)
        children = self._children.get(key)
        if children is None:
            m = _get()
            children = self._children[key] = (
                m.predictions.labels(model, protocol, str(event.status)),
                m.prediction_latency.labels(model, protocol),
                m.rows.labels(model))
        count, latency, rows = children
        count.inc()
        latency.observe(event.latency_ms / 1000)
        if not event.model:
            return
        if event.table is not None:
            rows.observe(event.table.nrows)
        details = getattr(event.error, "details", None) or {}
        if "r_message" in details:
            _get().r_errors.labels(model, "input" if event.error.status == 422 else "model").inc()

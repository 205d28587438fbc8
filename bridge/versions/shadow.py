"""Shadow traffic: an answered call (a prediction or a forecast) replayed on
the model's shadow version,
after the caller has its answer, and compared (front side).

`ShadowObserver` is one of the service's observers. On the caller's thread
it only looks up whether the model has a shadow and enqueues the event
(service.observers.Queued): when the queue is full the call is dropped and
counted, never waited for. On the shadow thread, `_replay` re-checks the
caller's rows and arguments against the shadow version (its schema may
differ), runs it in an R worker, compares the two answers and tells the
service's other observers with an Event whose `shadow` is True. Nothing
here can change the caller's answer or status, and a caller waits for a
shadow call at most its deadline:
- it runs only on an idle R worker while no caller waits for one
  (pool.Pool._run_spare), on the shadow thread, never queued; with none
  idle it is dropped and counted;
- it has its own deadline (--shadow-timeout, at most the model's own): past
  it the worker is killed as for any call, and that shadow version is
  suspended (its calls dropped) for SUSPEND seconds, doubling with each
  further timeout up to SUSPEND_MAX, so a slow shadow version cannot keep
  killing workers.

Shadow Event contract (for observers such as the prediction log):
    context     a copy of the caller's Context (same request_id, protocol,
                route, routing_key; `started` is when the replay began)
    model       the model name;  version: the shadow version's label
    status      200, or the BridgeError's status (500 for anything else)
    latency_ms  the replay's own time, from the shadow thread's start
    request     the table.Request as checked for the shadow version (None
                when the check failed), or the caller's forecast.ForecastRequest;
                table: the caller's table.Table (None for a forecast)
    answer      Answer(model, shadow version, Prediction or Forecast, latency) on 200
    error       the exception on failure;  shadow: True
    primary     the caller's own Event (routed version, its answer)
"""

import dataclasses
import logging
import threading
import time

from .. import metrics
from ..errors import BridgeError, InputError, NoSpareWorker, PredictTimeout
from ..forecast import ForecastRequest
from ..service.calls import Answer, Event
from ..service.observers import Queued
from ..table import Request, prepare_request

log = logging.getLogger(__name__)

SUSPEND = 60.0        # seconds a shadow version rests after its first timeout ...
SUSPEND_MAX = 900.0   # ... doubling with each timeout after it, up to this


@dataclasses.dataclass
class ShadowEvent(Event):
    primary: Event = None


class ShadowStats:
    """The running comparison of one model's routed and shadow answers."""

    def __init__(self, model, version):
        self.model, self.version = model, version
        self._lock = threading.Lock()
        self.shadowed = self.dropped = self.shadow_errors = self.primary_errors = 0
        self.timeouts = 0
        self.suspended_until = 0.0   # time.monotonic(); a timed-out shadow version rests
        self._rest = SUSPEND
        self.rows = self.class_rows = self.agreeing = self.numbers = 0
        self.abs_sum = self.abs_max = 0.0
        self.latency_sum = self.latency_max = 0.0

    def count(self, field):
        with self._lock:
            setattr(self, field, getattr(self, field) + 1)

    def suspended(self):
        return time.monotonic() < self.suspended_until

    def timed_out(self):
        """The shadow version passed its deadline: it rests, longer each time."""
        with self._lock:
            self.timeouts += 1
            self.shadow_errors += 1
            rest, self._rest = self._rest, min(SUSPEND_MAX, self._rest * 2)
            self.suspended_until = time.monotonic() + rest
            return rest

    def compared(self, routed, shadow, latency_ms):
        rows, class_rows, agreeing, numbers, abs_sum, abs_max = compare(routed, shadow)
        with self._lock:
            self._rest = SUSPEND
            self.shadowed += 1
            self.rows += rows
            self.class_rows += class_rows
            self.agreeing += agreeing
            self.numbers += numbers
            self.abs_sum += abs_sum
            self.abs_max = max(self.abs_max, abs_max)
            self.latency_sum += latency_ms
            self.latency_max = max(self.latency_max, latency_ms)

    def snapshot(self):
        with self._lock:
            done = self.shadowed
            return {
                "model": self.model, "shadow_version": self.version,
                "shadowed": done, "dropped": self.dropped,
                "errors": {"shadow": self.shadow_errors, "routed": self.primary_errors},
                "timeouts": self.timeouts,
                "suspended_seconds": max(0.0, round(self.suspended_until - time.monotonic(), 1)),
                "rows_compared": self.rows,
                "agreement": self.agreeing / self.class_rows if self.class_rows else None,
                "mean_abs_difference": self.abs_sum / self.numbers if self.numbers else None,
                "max_abs_difference": self.abs_max if self.numbers else None,
                "shadow_latency_ms": {"mean": self.latency_sum / done if done else None,
                                      "max": self.latency_max if done else None},
            }


# A forecast's step number and time label are the same for both versions by
# construction: only its values are compared.
FORECAST_INDEX = ("step", "time")


def compare(routed, shadow):
    """(rows, rows with non-numeric outputs, of those agreeing, numeric pairs,
    sum and max of their absolute differences) over the outputs both have."""
    skip = FORECAST_INDEX if hasattr(routed, "simulated") else ()
    common = [c for c in routed.columns if c in shadow.columns and c not in skip]
    n = min(routed.nrows, shadow.nrows)
    class_rows = agreeing = numbers = 0
    abs_sum = abs_max = 0.0
    for i in range(n):
        labels, same = False, True
        for c in common:
            a, b = routed.columns[c][i], shadow.columns[c][i]
            if _number(a) and _number(b):
                d = abs(a - b)
                numbers += 1
                abs_sum += d
                abs_max = max(abs_max, d)
            else:
                labels = True
                same = same and a == b
        if labels:
            class_rows += 1
            agreeing += same
    return n, class_rows, agreeing, numbers, abs_sum, abs_max


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class ShadowObserver:
    def __init__(self, service, catalog, maxsize=64, timeout=1.0):
        """`service`: whose observers hear of shadow answers; `catalog`: the
        registry (its `versioned(name)`); `timeout`: a shadow call's deadline."""
        self._service = service
        self._catalog = catalog
        self._timeout = timeout
        self._stats = {}
        self._lock = threading.Lock()
        self.queue = Queued(ShadowReplay(self), maxsize, name="shadow", on_drop=self._dropped)

    # ---- the caller's thread: look, enqueue, never wait ----------------------------------

    def observe(self, event):
        if event.shadow or not event.model or event.context.pinned is not None:
            return  # only routed calls are shadowed: a pinned one asked for its version
        label = self._shadow_of(event.model)
        if label is None or event.version == label:
            return
        if event.status != 200:
            if event.status >= 500:
                self.stats(event.model, label).count("primary_errors")
                metrics.shadow_outcome(event.model, "primary_error")
            return
        if isinstance(event.request, ForecastRequest) or (
                isinstance(event.request, Request) and event.table is not None):
            self.queue.observe(event)  # (no rows: nothing to replay)

    def _shadow_of(self, name):
        versioned = getattr(self._catalog, "versioned", None)
        found = versioned(name) if versioned is not None else None
        return found.serving.shadow if found is not None else None

    def _dropped(self, event):
        self.stats(event.model, self._shadow_of(event.model)).count("dropped")
        metrics.shadow_outcome(event.model, "dropped")

    # ---- what is shown ----------------------------------------------------------------

    def stats(self, model, version):
        """The comparison for `model` against shadow `version` (a new shadow
        version starts a new comparison)."""
        with self._lock:
            stats = self._stats.get(model)
            if stats is None or stats.version != version:
                stats = self._stats[model] = ShadowStats(model, version)
            return stats

    def report(self, name):
        label = self._shadow_of(name)
        with self._lock:
            stats = self._stats.get(name)
        if stats is None or stats.version != label:
            return ShadowStats(name, label).snapshot()
        return stats.snapshot()

    def join(self):
        self.queue.join()

    def close(self, timeout=None):
        """Shutdown: calls not replayed yet are dropped (counted), the one
        running finishes; True once the shadow thread has stopped."""
        self.queue.discard_pending()
        return self.queue.close(timeout)

    # ---- the shadow thread ------------------------------------------------------------

    def _replay(self, event):
        versioned = self._catalog.versioned(event.model)
        label = versioned.serving.shadow if versioned is not None else None
        if label is None or label == event.version:
            return
        stats = self.stats(event.model, label)
        if stats.suspended():
            self._drop(stats, event.model)
            return
        context = dataclasses.replace(event.context, started=time.perf_counter(), observed=True)
        request = model = None
        try:
            model = versioned.pick(label)
            if isinstance(event.request, ForecastRequest):
                # The horizon, levels and regressors as checked for the routed version.
                if model.kind != "forecaster":
                    raise InputError(f"shadow version {label} of {event.model!r} is not a forecaster")
                request = event.request
                prediction = model.forecast_spare(request, self._timeout)
            else:
                caller_args = {k: event.request.args[k] for k in event.request.caller}
                request = prepare_request(model, event.table, caller_args)
                prediction = model.run_spare(request, self._timeout)
        except NoSpareWorker:
            self._drop(stats, event.model)  # callers (would) wait for R: they go first
            return
        except Exception as exc:
            if isinstance(exc, PredictTimeout):
                rest = stats.timed_out()
                metrics.shadow_outcome(event.model, "timeout")
                log.warning("shadow version %s of %r passed its %g s deadline (--shadow-timeout); "
                            "its R worker was replaced and its shadow calls rest for %g s",
                            label, event.model, self._timeout, rest)
            else:
                stats.count("shadow_errors")
                metrics.shadow_outcome(event.model, "error")
            error = exc if isinstance(exc, BridgeError) else None
            status = error.status if error is not None else 500
            self._tell(ShadowEvent(context, event.model, label, status, context.elapsed_ms(),
                                   request, event.table, error=exc, shadow=True, primary=event))
            return
        latency = context.elapsed_ms()
        stats.compared(event.answer.result, prediction, latency)
        metrics.shadow_outcome(event.model, "compared", stats.snapshot(), latency)
        self._tell(ShadowEvent(context, event.model, label, 200, latency, request, event.table,
                               answer=Answer(event.model, label, prediction, latency),
                               shadow=True, primary=event))

    def _drop(self, stats, model):
        stats.count("dropped")
        metrics.shadow_outcome(model, "dropped")

    def _tell(self, event):
        self._service.observers.notify(event)


class ShadowReplay:
    def __init__(self, shadow):
        self._shadow = shadow

    def observe(self, event):
        self._shadow._replay(event)

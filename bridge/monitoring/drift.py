"""Live drift (always on): a rolling window per served model and version of
the inputs it received, the outputs it answered, its refusals and latencies,
compared with the model's reference (summary.py) on request (`report`).

`Monitor` is an observer run off the request path (service.observers.Queued):
`observe` only writes the call's typed columns into the version's window
(window.py: numpy rings, the last `max_rows` rows of the last `max_seconds`);
the summaries, PSI and KS are computed when someone asks (GET
/models/<name>/monitor, GET /monitor, a tick that refreshes the
`bridge_input_drift_psi` gauges).
"""

import collections
import threading
import time

import numpy as np

from .. import metrics
from ..convert import INT_NA
from . import summary
from .window import Floats, Ring, as_indexed

LATENCIES = 2000
MIN_ROWS = 30  # fewer live values than this: PSI is shown, but too noisy to call drift


class _Window:
    """One model version's recent calls: their rows (a Ring), latencies,
    refusals (the last max_rows refused calls) and counts."""

    def __init__(self, model, max_rows):
        self.model = model                     # the served model view (schema, reference)
        self.rows = Ring(max_rows)             # keys ("in", name) and ("out", name)
        self.latency = Floats(LATENCIES)
        self.answered = 0
        self.refused = collections.deque(maxlen=max_rows)   # (time, rows, reason)
        self.shadow = 0

    def trim(self, since):
        self.rows.trim(since)
        while self.refused and self.refused[0][0] < since:
            self.refused.popleft()


class Monitor:
    def __init__(self, catalog, max_rows=10_000, max_seconds=3600.0, threshold=0.2, clock=None):
        self._catalog = catalog
        self.max_rows = int(max_rows)
        self.max_seconds = float(max_seconds)
        self.threshold = float(threshold)
        self._clock = clock or time.time
        self._windows = {}   # (model, version) -> _Window
        self._lock = threading.Lock()

    # ---- observing (the observer's thread) --------------------------------------------

    def observe(self, event):
        if not event.model or event.context.protocol == "plumber":
            return
        now = self._clock()
        key = (event.model, event.version or "")
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(self._model(event.model), self.max_rows)
            if event.shadow:
                window.shadow += 1
                return
            window.latency.append(event.latency_ms)
            if event.status != 200:
                rows = event.context.rows or (event.table.nrows if event.table is not None else 1)
                window.refused.append((now, rows or 1, refusal_reason(event)))
            else:
                window.answered += 1
                values = {("in", k): v for k, v in live_inputs(event.request).items()}
                values.update((("out", k), v) for k, v in live_outputs(event.answer).items())
                lengths = {k: len(v[1]) for k, v in values.items()}
                n = max(lengths.values(), default=0)
                if len(set(lengths.values())) > 1:
                    # a column shorter than the call (never from the service) is not guessed at
                    values = {k: v for k, v in values.items() if lengths[k] == n}
                window.rows.append(now, n, values)
            window.trim(now - self.max_seconds)

    def tick(self):
        """Refreshes the PSI gauges (on the observer's thread, when idle)."""
        for key in list(self._windows):
            report = self.report_version(*key)
            for name, col in report["columns"].items():
                if col["psi"] is not None:
                    metrics.drift_psi(key[0], key[1], name, col["psi"])

    def _model(self, name):
        try:
            return self._catalog.get(name)
        except Exception:
            return None

    def nbytes(self):
        """Bytes the windows' rows hold (numpy buffers and label tables)."""
        with self._lock:
            return sum(w.rows.nbytes() for w in self._windows.values())

    # ---- reports (any thread) ------------------------------------------------------

    def versions(self, name):
        with self._lock:
            return sorted(v for m, v in self._windows if m == name)

    def keys(self):
        with self._lock:
            return sorted(self._windows)

    def report(self, name, model=None):
        """Every watched version of a model (the served one first, even before any call)."""
        served = (model.version or "") if model is not None else None
        versions = self.versions(name)
        if served is not None and served not in versions:
            versions.insert(0, served)
        return {"model": name, "threshold": self.threshold, "window": {
                    "max_rows": self.max_rows, "max_seconds": self.max_seconds},
                "versions": [self.report_version(name, v, model) for v in versions]}

    def report_version(self, name, version, model=None):
        now = self._clock()
        with self._lock:
            window = self._windows.get((name, version))
            if window is not None:
                window.trim(now - self.max_seconds)
                ring = window.rows
                live = {key: ring.snapshot(key) for key in ring.keys()}
                live = {k: v for k, v in live.items() if v is not None}
                live_rows = ring.size
                latency = window.latency.array()
                refused = list(window.refused)
                answered, shadow = window.answered, window.shadow
                model = window.model or model
            else:
                live, live_rows, latency, refused, answered, shadow = {}, 0, [], [], 0, 0
        current = self._model(name)
        if current is not None and (current.version or "") == version:
            model = current  # a reloaded file: its reference now
        if model is None:
            model = current
        reference = (getattr(model, "reference", None) or {}).get("columns", {})
        kinds = {c.name: c.kind for c in model.schema.columns} if model is not None else {}
        columns = {}
        for col in dict.fromkeys([*kinds, *(k for side, k in live if side == "in")]):
            columns[col] = self._column(kinds.get(col, "any"), reference.get(col),
                                        live.get(("in", col)))
        outputs = {k: _live_summary(live[(side, k)]) for side, k in live if side == "out"}
        refused_rows = sum(r[1] for r in refused)
        reasons = collections.Counter()
        for _, rows, reason in refused:
            reasons[reason] += rows
        drifting = sorted(k for k, c in columns.items() if c["drifting"])
        return {
            "model": name, "version": version or None,
            "reference_source": (getattr(model, "reference", None) or {}).get("source", "none"),
            "rows": live_rows, "calls": answered, "shadow_calls": shadow,
            "refused": {"rows": refused_rows,
                        "share": refused_rows / (refused_rows + live_rows) if refused_rows + live_rows else 0.0,
                        "reasons": dict(reasons)},
            "latency_ms": _percentiles(latency),
            "drifting": drifting,
            "columns": columns,
            "outputs": outputs,
        }

    def _column(self, kind, reference, values):
        live = _live_summary(values, reference)
        numbers = live is not None and live["type"] == "number"
        psi = summary.psi(reference, live) if reference and live else None
        ks = (summary.ks(reference, values[1]) if numbers
              and summary.has_distribution(reference) else None)
        return {"type": kind, "reference": reference, "live": live, "psi": psi, "ks": ks,
                "unseen": summary.unseen(reference, live) if live else None,
                "drifting": psi is not None and psi > self.threshold and live["n"] >= MIN_ROWS}


def _live_summary(values, reference=None):
    """A window's snapshot of one column (window.Ring.snapshot) -> its summary,
    counted in the reference's bins / levels when it has them."""
    if values is None:
        return None
    if values[0] == "number":
        edges = reference.get("edges") if summary.has_distribution(reference) and \
            reference["type"] == "number" else None
        return summary.summarize("numeric", values[1], edges)
    known = (set(reference["counts"]) if summary.has_distribution(reference)
             and reference["type"] == "levels" else None)
    _, n, missing, counts = values
    return summary.levels_from_counts(n, missing, counts, known)


def _percentiles(values):
    if not len(values):
        return {"p50": None, "p90": None, "p99": None, "n": 0}
    p50, p90, p99 = np.percentile(np.asarray(values), [50, 90, 99]).tolist()
    return {"p50": p50, "p90": p90, "p99": p99, "n": len(values)}


def refusal_reason(event):
    details = getattr(event.error, "details", None) or {}
    if "missing_columns" in details:
        return "missing columns"
    if "allowed_levels" in details:
        return "unknown level"
    if "max_rows" in details:
        return "too many rows"
    if "column" in details:
        return "bad value"
    if event.error is None:
        return "internal error"
    return type(event.error).__name__


# ---- the values a window keeps ----------------------------------------------------

def live_values(prepared):
    """A Prepared column as the window takes it (window.Ring.append): numbers
    as doubles (NaN: NA); factor and logical codes as indices into their
    labels; character values as labels (None: NA)."""
    col, data = prepared.column, prepared.data
    if isinstance(data, list):
        return ("labels", list(data))
    if data.dtype == np.int32:
        if col.kind in ("factor", "ordered", "logical"):
            return as_indexed(data, col.kind, col.levels)
        out = data.astype(np.float64)
        out[data == INT_NA] = np.nan
        return ("number", out)
    return ("number", np.array(data, dtype=np.float64))  # R's NA is a NaN: np.isnan sees it


def live_inputs(request):
    if request is None:
        return {}
    columns = getattr(request, "columns", None)
    if columns is None:
        columns = getattr(request, "xreg", None) or []
    return {p.column.name: live_values(p) for p in columns}


def live_outputs(answer):
    result = answer.result
    # R's doubles as the float64 vectors that came from the worker (NaN where
    # R had NA). NOTE: for 100,000 rows, reading them as lists instead cost
    # the observer's thread ~12 ms of the front's GIL per call (py-spy),
    # taken from the next request's own work.
    vectors = getattr(result, "vectors", None)
    if vectors is None:
        vectors = getattr(result, "columns", None) or {}
    out = {}
    for name, values in vectors.items():
        if name in ("step", "time"):
            continue
        if isinstance(values, np.ndarray):  # a Prediction's only arrays: float64
            out[name] = ("number", values)
            continue
        if all(v is None or (type(v) in (int, float)) for v in values):
            out[name] = ("number", np.array([np.nan if v is None else v for v in values],
                                            dtype=np.float64))
        else:
            out[name] = ("labels", [None if v is None else str(v) for v in values])
    return out

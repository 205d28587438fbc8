"""Live drift (always on): a rolling window per served model and version of
the inputs it received, the outputs it answered, its refusals and latencies,
compared with the model's reference (summary.py) on request (`report`).

`Monitor` is an observer run off the request path (service.observers.Queued):
`observe` only appends the call's typed columns to a bounded window (the
last `max_rows` rows and the last `max_seconds`); the summaries, PSI and KS
are computed when someone asks (GET /models/<name>/monitor, GET /monitor, a
tick that refreshes the `bridge_input_drift_psi` gauges).
"""

import collections
import threading
import time

import numpy as np

from .. import metrics
from ..convert import INT_NA
from . import summary

LATENCIES = 2000
MIN_ROWS = 30  # fewer live values than this: PSI is shown, but too noisy to call drift


class _Window:
    """One model version's recent calls: chunks of rows, oldest first."""

    def __init__(self, model):
        self.model = model                     # the served model view (schema, reference)
        self.chunks = collections.deque()      # (time, nrows, {column: values}, {output: values})
        self.rows = 0
        self.latency = collections.deque(maxlen=LATENCIES)
        self.answered = 0
        self.refused = collections.deque()     # (time, rows, reason)
        self.shadow = 0

    def trim(self, max_rows, since):
        while self.chunks and (self.rows - self.chunks[0][1] >= max_rows or self.chunks[0][0] < since):
            self.rows -= self.chunks.popleft()[1]
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
                window = self._windows[key] = _Window(self._model(event.model))
            if event.shadow:
                window.shadow += 1
                return
            window.latency.append(event.latency_ms)
            if event.status != 200:
                rows = event.context.rows or (event.table.nrows if event.table is not None else 1)
                window.refused.append((now, rows or 1, refusal_reason(event)))
            else:
                window.answered += 1
                inputs = live_inputs(event.request)
                outputs = live_outputs(event.answer)
                n = max([len(v) for v in (*inputs.values(), *outputs.values())] or [0])
                if n > self.max_rows:  # one huge call: its last rows stand for it
                    inputs = {k: v[-self.max_rows:] for k, v in inputs.items()}
                    outputs = {k: v[-self.max_rows:] for k, v in outputs.items()}
                    n = self.max_rows
                if n:
                    window.chunks.append((now, n, inputs, outputs))
                    window.rows += n
            window.trim(self.max_rows, now - self.max_seconds)

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
                window.trim(self.max_rows, now - self.max_seconds)
                chunks = list(window.chunks)
                latency = list(window.latency)
                refused = list(window.refused)
                answered, shadow = window.answered, window.shadow
                model = window.model or model
            else:
                chunks, latency, refused, answered, shadow = [], [], [], 0, 0
        if model is None:
            model = self._model(name)
        reference = (getattr(model, "reference", None) or {}).get("columns", {})
        kinds = {c.name: c.kind for c in model.schema.columns} if model is not None else {}
        live_rows = sum(c[1] for c in chunks)
        columns = {}
        for col in dict.fromkeys([*kinds, *(k for c in chunks for k in c[2])]):
            columns[col] = self._column(kinds.get(col, "any"), reference.get(col),
                                        [c[2][col] for c in chunks if col in c[2]])
        outputs = {}
        for col in dict.fromkeys(k for c in chunks for k in c[3]):
            values = [c[3][col] for c in chunks if col in c[3]]
            outputs[col] = _live_summary(None, values)
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

    def _column(self, kind, reference, parts):
        live = _live_summary(kind, parts, reference)
        numbers = live is not None and live["type"] == "number"
        psi = summary.psi(reference, live) if reference and live else None
        ks = (summary.ks(reference, np.concatenate(parts)) if numbers and parts
              and summary.has_distribution(reference) else None)
        return {"type": kind, "reference": reference, "live": live, "psi": psi, "ks": ks,
                "unseen": summary.unseen(reference, live) if live else None,
                "drifting": psi is not None and psi > self.threshold and live["n"] >= MIN_ROWS}


def _live_summary(kind, parts, reference=None):
    if not parts:
        return None
    if isinstance(parts[0], np.ndarray):
        edges = reference.get("edges") if summary.has_distribution(reference) and \
            reference["type"] == "number" else None
        return summary.summarize("numeric", np.concatenate(parts), edges)
    return summary.summarize("character", [v for p in parts for v in p])


def _percentiles(values):
    if not values:
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
    """A Prepared column as summaries take it: numbers as doubles (NaN: NA),
    factor, logical and character values as labels (None: NA)."""
    col, data = prepared.column, prepared.data
    if isinstance(data, list):
        return list(data)
    if data.dtype == np.int32:
        mask = data == INT_NA
        if col.kind in ("factor", "ordered"):
            labels = np.array([None, *col.levels], dtype=object)
            return labels[np.where(mask, 0, data)].tolist()
        if col.kind == "logical":
            return [None if m else ("TRUE" if v else "FALSE") for v, m in zip(data.tolist(), mask)]
        out = data.astype(np.float64)
        out[mask] = np.nan
        return out
    return np.array(data, dtype=np.float64)  # R's NA is a NaN: np.isnan sees it


def live_inputs(request):
    if request is None:
        return {}
    columns = getattr(request, "columns", None)
    if columns is None:
        columns = getattr(request, "xreg", None) or []
    return {p.column.name: live_values(p) for p in columns}


def live_outputs(answer):
    out = {}
    for name, values in (getattr(answer.result, "columns", None) or {}).items():
        if name in ("step", "time"):
            continue
        if all(v is None or (type(v) in (int, float)) for v in values):
            out[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            out[name] = [None if v is None else str(v) for v in values]
    return out

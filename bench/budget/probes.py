"""Stage timers, installed into the bridge's own processes for a budget run.

Each probe wraps one function of the bridge (or of waitress) and records, per
call, its end time (time.time(), comparable across processes) and duration.
R's predict() is timed in R, by a closure around the model's predictor. Every
process writes what it recorded to BRIDGE_BUDGET_DIR/<pid>.json at most once a
second (the workers are killed, not exited, when the server stops, so nothing
waits for exit); bench/budget/run.py reads the records inside its time window.

The probes change no behaviour: a wrapper calls the original with the same
arguments and returns what it returns. A function that is renamed fails the
install loudly (tests/test_bench_harness.py runs it), not silently.
"""

import collections
import functools
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import time
import types

RECORDS = collections.defaultdict(list)   # stage -> [(end, seconds)]
_DIR = os.environ.get("BRIDGE_BUDGET_DIR")
_last_dump = [0.0]
_lock = threading.Lock()
_r_reader = []   # the worker's reader of R's own timings, once R is up


def record(stage, seconds, end=None):
    RECORDS[stage].append((time.time() if end is None else end, seconds))


def timed(stage, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            record(stage, time.perf_counter() - t0)
    wrapper.__budget__ = stage
    return wrapper


def patch(owner, attr, stage):
    original = getattr(owner, attr)  # AttributeError: the bridge changed; fix the probe
    setattr(owner, attr, timed(stage, original))


class _Timed:
    """A stand-in for a module (pickle, orjson) seen by one bridge module:
    the named functions timed, the rest passed through."""

    def __init__(self, module, stages):
        self._module = module
        for name, stage in stages.items():
            setattr(self, name, timed(stage, getattr(module, name)))

    def __getattr__(self, name):
        return getattr(self._module, name)


def dump(force=False, r=True):
    now = time.time()
    if not force and now - _last_dump[0] < 1.0:
        return
    _last_dump[0] = now
    for read in _r_reader if r else ():
        read()
    import json

    with _lock:
        data = {stage: list(values) for stage, values in RECORDS.items()}
    path = os.path.join(_DIR, f"{os.getpid()}.json")
    # One temporary name per thread: two threads of one process that dump at
    # once (the worker's main thread and its sender) raced on one name, and
    # the loser's rename killed the R worker mid-run (a 502 in the budget).
    tmp = f"{path}.{threading.get_ident()}.tmp"
    with open(tmp, "w") as out:
        json.dump({"pid": os.getpid(), "argv": sys.argv, "stages": data}, out)
    os.replace(tmp, path)


# ---- the probes, per module ------------------------------------------------------------

def _waitress_channel(mod):
    patch(mod.HTTPChannel, "received", "front.http_read_parse")


def _waitress_task(mod):
    patch(mod.WSGITask, "execute", "front.wsgi_call")   # the app, and writing its answer


def _falcon_app(mod):
    original = mod.App.__init__

    @functools.wraps(original)
    def init(self, *args, middleware=None, **kwargs):
        for component in middleware or ():
            for hook in ("process_request", "process_resource", "process_response"):
                if hasattr(component, hook):
                    # falcon wants bound methods: the timed call, bound again
                    bound = getattr(component, hook)
                    fn = timed(f"front.middleware.{type(component).__name__}.{hook}",
                               lambda self, *a, _bound=bound, **k: _bound(*a, **k))
                    setattr(component, hook, types.MethodType(fn, component))
        original(self, *args, middleware=middleware, **kwargs)
    mod.App.__init__ = init


def _resources(mod):
    patch(mod.PredictResource, "on_post", "front.resource")
    mod.detect = timed("front.content_type", mod.detect)
    mod.orjson = _Timed(mod.orjson, {"dumps": "front.response_encode"})
    native = sys.modules["bridge.formats.native"]
    patch(native, "parse", "front.body_parse")


def _prediction(mod):
    patch(mod.Prediction, "json_records", "front.response_records")


def _service(mod):
    patch(mod.Service, "resolve", "front.resolve")
    mod.prepare_request = timed("front.request_prepare", mod.prepare_request)
    patch(mod.Service, "_answered", "front.observers")


def _remote(mod):
    patch(mod.ServedModel, "run", "front.dispatch_total")


def _pool(mod):
    patch(mod.WorkerHandle, "_await", "front.pipe_await")  # until the worker's reply is read
    patch(mod.WorkerHandle, "_run_jobs", "front.worker_round_trip")


def _messages(mod):
    """pickle, send and receive on both sides of the pipe. In a worker (run
    as __main__, out of this finder's reach) the time from reading a message
    to starting to send its reply is the worker's handling of it."""
    mod.dumps = timed("pickle.dumps", mod.dumps)
    mod.loads = timed("pickle.loads", mod.loads)
    send, receive = mod.send, mod.receive
    in_worker = sys.argv[0].endswith(os.path.join("workers", "worker.py"))
    last = [None]

    def timed_send(conn, message):
        t0 = time.perf_counter()
        if in_worker and last[0] is not None:
            record("worker.handle", t0 - last[0])
            last[0] = None
        try:
            return send(conn, message)
        finally:
            record("pipe.send", time.perf_counter() - t0)
            if in_worker:
                dump()

    def timed_receive(conn):
        t0 = time.perf_counter()
        try:
            return receive(conn)
        finally:
            last[0] = time.perf_counter()
            if not in_worker:  # a worker's receive is mostly waiting for work
                record("pipe.receive", last[0] - t0)
    mod.send, mod.receive = timed_send, timed_receive


def _session(mod):
    patch(mod.RSession, "run", "worker.r_session_run")


def _convert(mod):
    patch(mod.FrameParts, "build", "worker.to_r")


def _model(mod):
    mod.rpy2py_column = timed("worker.from_r", mod.rpy2py_column)   # predictions
    mod.rpy2py_vector = timed("worker.from_r", mod.rpy2py_vector)   # warnings, info
    mod._one_per_row = timed("worker.one_per_row", mod._one_per_row)
    patch(mod.RModel, "predict_many", "worker.predict_many")
    original = mod.RModel._bind

    @functools.wraps(original)
    def bind(self, robj):
        original(self, robj)
        self._predict = timed("worker.r_wrapper_call", self._predict)
        self.predictor = _timed_in_r(self.session.ri, self.predictor)
    mod.RModel._bind = bind


_R_TIMER = """
local({
  times <- new.env(parent = emptyenv())
  times$end <- numeric(0)
  times$dur <- numeric(0)
  list(
    wrap = function(inner) {
      f <- function(model, newdata, args) {
        t0 <- Sys.time()
        on.exit({
          t1 <- Sys.time()
          times$end <- c(times$end, as.numeric(t1))
          times$dur <- c(times$dur, as.numeric(t1) - as.numeric(t0))
        })
        inner(model, newdata, args)
      }
      attr(f, "state") <- attr(inner, "state", exact = TRUE)
      f
    },
    take = function() {
      out <- list(end = times$end, dur = times$dur)
      times$end <- numeric(0)
      times$dur <- numeric(0)
      out
    })
})
"""


def _timed_in_r(ri, predictor):
    """The predictor (function(model, newdata, args) in R) inside a closure
    that times it with Sys.time(): R's predict(), the call .predict builds."""
    if not _r_reader:
        timer = ri.baseenv["eval"](ri.parse(_R_TIMER))
        names = list(timer.names)
        wrap, take = timer[names.index("wrap")], timer[names.index("take")]
        _R_TIMER_FNS.append(wrap)

        def read():
            out = take()
            ends, durs = list(out[0]), list(out[1])
            for end, dur in zip(ends, durs):
                record("worker.r_predict", dur, end)
        _r_reader.append(read)
    return _R_TIMER_FNS[0](predictor)


_R_TIMER_FNS = []

PROBES = {
    "waitress.channel": _waitress_channel,
    "waitress.task": _waitress_task,
    "falcon.app": _falcon_app,
    "bridge.http.resources": _resources,
    "bridge.prediction": _prediction,
    "bridge.service.service": _service,
    "bridge.workers.remote": _remote,
    "bridge.workers.pool": _pool,
    "bridge.workers.messages": _messages,
    "bridge.r.session": _session,
    "bridge.r.convert": _convert,
    "bridge.r.model": _model,
}


class _Finder(importlib.abc.MetaPathFinder):
    """Runs a module's probe right after the module is first executed."""

    def find_spec(self, name, path, target=None):
        if name not in PROBES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            PROBES[name](module)
            INSTALLED.append(name)
        loader.exec_module = exec_module
        return spec


INSTALLED = []


def install():
    sys.meta_path.insert(0, _Finder())

    def dumper():
        while not _r_reader:  # a worker with R dumps on its R thread, after a reply
            time.sleep(1.0)
            dump(force=True, r=False)
    threading.Thread(target=dumper, daemon=True, name="budget-dump").start()

"""The one door to the embedded R.

R may be driven from one thread at a time. `RSession` owns a dedicated R
thread that starts R (inside the process that uses it: never fork a process
whose R is already initialised) and runs the jobs other threads queue. A
predict request that finds R idle runs on its own thread instead, holding
rpy2's R lock (rpy2 turns R's C stack check off, so any one thread may
drive R); only busy moments queue. Python wrappers of R objects that die
on a thread not holding R are released later by one that does.

Jobs that share a batch key (same model, same predict args, same column
types) and wait in the queue together are run as one call: while R is busy
with one request, the next ones gather, and R takes them all at once. A lone
client never waits for company unless `max_wait` is set and other requests
are on their way.
"""

import collections
import dataclasses
import logging
import os
import threading
import time
import warnings
from concurrent.futures import Future

from .errors import Overloaded, PredictTimeout

from . import r as _clean_r  # noqa: F401  (before rpy2: R starts clean)
from .settings import R_HELPERS

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Job:
    future: Future
    fn: object
    args: tuple = ()
    key: object = None   # batch key; None runs alone
    rows: int = 0
    name: str = ""
    many: bool = False   # fn takes a list of items (run_batched)


class RSession:
    """Owns the embedded R of this process and the thread that drives it."""

    def __init__(self, helpers=R_HELPERS, max_batch_rows=10_000, max_wait=0.0, max_queue=1000,
                 default_timeout=30.0, max_response_bytes=64 * 2**20):
        self._helpers = helpers
        self.max_response_bytes = max_response_bytes
        self.default_timeout = default_timeout
        self.max_batch_rows = max_batch_rows
        self.max_wait = max_wait
        self.max_queue = max_queue
        self._queue = collections.deque()
        self._cv = threading.Condition()
        self._arriving = 0
        self._idle = False
        self.busy_since = None      # monotonic start of the running job, for watchdogs
        self.on_batch = []          # callbacks(name, rows, requests)
        self._started = threading.Event()
        self._start_error = None
        self._thread = threading.Thread(target=self._loop, name="r-session", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error
        self.r_version = self.run(lambda: self.ri.baseenv["R.version.string"][0])
        self._deadline = None
        self._timed_out = False
        threading.Thread(target=self._watch_deadlines, name="r-deadlines", daemon=True).start()

    # ---- public ----------------------------------------------------------

    def run(self, fn, *args, timeout=None):
        """Runs fn(*args) on the R thread and returns its result."""
        if threading.current_thread() is self._thread:
            return fn(*args)
        return self.wait(self.submit(fn, *args), timeout)

    def submit(self, fn, *args):
        return self._put(Job(Future(), fn, args), bounded=False)

    def run_batched(self, fn, item, key, rows, name="", timeout=None):
        """Runs fn([item, ...]) with every queued item of the same key.

        fn gets a list of items and returns a list of results (or exception
        instances) in the same order.
        """
        if self.max_wait == 0 and self._idle and not self._queue and _rlock().acquire(blocking=False):
            return self._run_inline(fn, item, rows, name, timeout)
        future = self._put(Job(Future(), fn, (item,), key, rows, name, many=True), bounded=True)
        return self.wait(future, timeout)

    def _run_inline(self, fn, item, rows, name, timeout):
        """R is idle and its lock is ours: run on this thread.

        R may be driven from any one thread at a time (rpy2 turns R's C
        stack check off), and handing the call to the R thread cost more
        than the call: one-row predict 2.5 ms through the R thread, 1.65 ms
        here, in a server under a sequential client. Requests that arrive
        meanwhile queue and are batched by the R thread as before.
        """
        from rpy2.rinterface_lib import openrlib

        try:
            _release_deferred()
            self._timed_out = False
            self.busy_since = time.monotonic()
            self._deadline = self.busy_since + timeout if timeout else None
            try:
                result = fn([item])[0]
            except BaseException:
                if self._timed_out:
                    raise PredictTimeout(f"predict() did not finish within {timeout:g} s") from None
                raise
            for callback in self.on_batch:
                callback(name, rows, 1)
        finally:
            self._deadline = None
            self.busy_since = None
            openrlib.rlib.R_interrupts_pending = 0
            openrlib.rlock.release()
        if isinstance(result, BaseException):
            raise result
        return result

    def _watch_deadlines(self):
        """Interrupts an inline call that outlives its timeout."""
        while True:
            time.sleep(0.1)
            deadline = self._deadline
            if deadline is not None and time.monotonic() > deadline and not self._timed_out:
                self._timed_out = True
                self.interrupt()

    def wait(self, future, timeout):
        try:
            return future.result(timeout)
        except TimeoutError:
            if not future.cancel():
                # Running: ask R to stop at its next interrupt check.
                self.interrupt()
            raise PredictTimeout(f"predict() did not finish within {timeout:g} s")

    def interrupt(self):
        from rpy2.rinterface_lib import openrlib

        openrlib.rlib.R_interrupts_pending = 1

    def arriving(self):
        """Context for a request on its way to run_batched (max_wait hint)."""
        return _Arriving(self)

    def queue_depth(self):
        return len(self._queue)

    @property
    def alive(self):
        """False once the R thread is gone (readiness reports R down)."""
        return self._thread.is_alive()

    def helper(self, name):
        """An R function defined in r_scripts/bridge.R (call on the R thread)."""
        return self._env[name]

    # ---- the queue ---------------------------------------------------------

    def _put(self, job, bounded):
        with self._cv:
            if bounded and len(self._queue) >= self.max_queue:
                raise Overloaded(f"{len(self._queue)} requests are already waiting for R; retry shortly")
            self._queue.append(job)
            self._cv.notify()
        return job.future

    def _take(self):
        with self._cv:
            while not self._queue:
                # Idle: a request may run inline instead of waking this thread.
                self._idle = True
                self._cv.wait()
            self._idle = False
            first = self._queue.popleft()
            batch = [first]
            if first.key is None:
                return batch
            deadline = time.monotonic() + self.max_wait
            rows = first.rows
            while True:
                rows = self._gather(first.key, batch, rows)
                left = deadline - time.monotonic()
                if rows >= self.max_batch_rows or left <= 0 or self._arriving == 0:
                    return batch
                self._cv.wait(left)

    def _gather(self, key, batch, rows):
        keep = collections.deque()
        while self._queue:
            job = self._queue.popleft()
            if job.key == key and rows + job.rows <= self.max_batch_rows:
                batch.append(job)
                rows += job.rows
            else:
                keep.append(job)
        self._queue = keep
        return rows

    # ---- the R thread ----------------------------------------------------

    def _loop(self):
        try:
            self._start_r()
        except Exception as exc:  # reported to the constructor's caller
            self._start_error = exc
            self._started.set()
            return
        self._started.set()
        from rpy2.rinterface_lib import openrlib

        while True:
            batch = [job for job in self._take() if job.future.set_running_or_notify_cancel()]
            if not batch:
                continue
            self.busy_since = time.monotonic()
            try:
                # NOTE: the rlock is re-entrant; holding it guards against any
                # other library in the process touching R behind our back.
                with openrlib.rlock:
                    _release_deferred()
                    self._run(batch)
            finally:
                self.busy_since = None
                # An interrupt that arrived after its call ended must not hit the next one.
                openrlib.rlib.R_interrupts_pending = 0

    def _run(self, batch):
        first = batch[0]
        try:
            if not first.many:
                results = [first.fn(*first.args)]
            else:
                results = first.fn([job.args[0] for job in batch])
                for callback in self.on_batch:
                    callback(first.name, sum(job.rows for job in batch), len(batch))
        except BaseException as exc:
            results = [exc] * len(batch)
        for job, result in zip(batch, results):
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    def _start_r(self):
        import rpy2.rinterface as ri

        # Without TZ, R asks timedatectl for the zone, which fails in containers.
        os.environ.setdefault("TZ", "UTC")
        ld_path = os.environ.get("LD_LIBRARY_PATH")
        _guard_releases()
        # R starts clean wherever the server is started: no .Rprofile, .RData
        # (.First), site profile or .Renviron from the working directory or
        # $HOME (R's --vanilla). Those files are code no lock file approved.
        from rpy2.rinterface_lib import embedded
        if not embedded.isinitialized():
            embedded.set_initoptions(("rpy2", "--quiet", "--no-save", "--vanilla"))
        with warnings.catch_warnings():
            # R started off the main thread owns SIGINT; Python keeps its own
            # handlers, which is what a server wants.
            warnings.filterwarnings("ignore", message="R is not initialized by the main thread")
            ri.initr_simple()
        # NOTE: rpy2 prepends R's library dirs to LD_LIBRARY_PATH, too late to
        # matter here but inherited by every child process (a Python started
        # with it can load the system's libpython instead of its own).
        _restore_env("LD_LIBRARY_PATH", ld_path)
        # R calls R_ProcessEvents at every interrupt check, and rpy2 hooks it
        # into a Python callback that has no events to process here: that
        # round trip made R code ~50% slower (predict.lm in a loop: 1.45 ms
        # per call with it, 0.9 ms without). Interrupts (our timeouts) are
        # read from R_interrupts_pending and do not need it.
        from rpy2.rinterface_lib import openrlib
        openrlib.rlib.ptr_R_ProcessEvents = openrlib.ffi.NULL
        self.ri = ri
        env = ri.baseenv["new.env"]()
        for path in sorted(self._helpers.glob("*.R")):
            ri.baseenv["sys.source"](ri.StrSexpVector([str(path)]), envir=env)
        self._env = env
        log.info("embedded R started, helpers from %s", self._helpers)


# R objects whose Python wrappers died on a thread that does not hold R.
_deferred = collections.deque()
_release = None


def _guard_releases():
    """Makes rpy2 release R objects only on a thread that holds R.

    rpy2 releases an R object from the wrapper's __del__, on whatever thread
    drops the last reference: an HTTP thread dropping an exception whose
    traceback holds R values, or the reload thread dropping a replaced
    model. R_ReleaseObject there races the R thread and corrupts R's
    precious list (seen as "deallocating None" crashes under load). Off the
    R thread the release is queued; the R thread does it before its next job.
    """
    global _release
    from rpy2.rinterface_lib import _rinterface_capi as capi
    from rpy2.rinterface_lib import openrlib

    if _release is not None:
        return
    _release = capi._release

    def guarded(cdata):
        if openrlib.rlock._is_owned():
            _release(cdata)
        else:
            _deferred.append(cdata)

    capi._release = guarded


def _rlock():
    from rpy2.rinterface_lib import openrlib

    return openrlib.rlock


def _release_deferred():
    while _deferred:
        _release(_deferred.popleft())


def _restore_env(name, value):
    import os

    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


class _Arriving:
    def __init__(self, session):
        self._session = session

    def __enter__(self):
        with self._session._cv:
            self._session._arriving += 1

    def __exit__(self, *exc):
        with self._session._cv:
            self._session._arriving -= 1
            self._session._cv.notify_all()


_default = None
_default_lock = threading.Lock()


def default_session():
    """The process-wide session, started on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RSession()
        return _default

"""The embedded R of one process: started clean, driven by one thread at a time.

In an R worker process (bridge/workers/worker.py) R runs on the process's
main thread and nothing else touches it. The Python API (`load_model`) uses
the same session in the caller's process; there `run()` holds rpy2's R lock
so several threads may call it.
"""

import collections
import logging
import os
import threading
import warnings

from ..settings import R_HELPERS

log = logging.getLogger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20


class RSession:
    """Owns the embedded R of this process."""

    def __init__(self, helpers=R_HELPERS, max_response_bytes=DEFAULT_MAX_RESPONSE_BYTES,
                 default_timeout=30.0):
        self.max_response_bytes = max_response_bytes
        self.default_timeout = default_timeout  # what Plumber calls are allowed (bridge/r/plumber.py)
        self._helpers = helpers
        self._start_r()
        self.r_version = self.run(lambda: self.ri.baseenv["R.version.string"][0])

    def run(self, fn, *args):
        """fn(*args) with R to itself. No timeout: the front's pool ends a
        worker whose call runs too long (bridge/workers/pool.py)."""
        from rpy2.rinterface_lib import openrlib

        with openrlib.rlock:
            _release_deferred()
            return fn(*args)

    def helper(self, name):
        """An R function defined in r_scripts/bridge/*.R."""
        return self._env[name]

    def _start_r(self):
        import rpy2.rinterface as ri
        from rpy2.rinterface_lib import embedded, openrlib

        # Without TZ, R asks timedatectl for the zone, which fails in containers.
        os.environ.setdefault("TZ", "UTC")
        ld_path = os.environ.get("LD_LIBRARY_PATH")
        _guard_releases()
        # R starts clean wherever the server is started: no .Rprofile, .RData
        # (.First), site profile or .Renviron from the working directory or
        # $HOME (R's --vanilla). Those files are code no lock file approved.
        if not embedded.isinitialized():
            embedded.set_initoptions(("rpy2", "--quiet", "--no-save", "--vanilla"))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="R is not initialized by the main thread")
            ri.initr_simple()
        # NOTE: rpy2 prepends R's library dirs to LD_LIBRARY_PATH, inherited by
        # every child process (a Python started with it can load the system's
        # libpython instead of its own).
        if ld_path is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = ld_path
        # R calls R_ProcessEvents at every interrupt check, and rpy2 hooks it
        # into a Python callback with no events to process here: that round
        # trip made R code ~50% slower (predict.lm in a loop: 1.45 ms per call
        # with it, 0.9 ms without).
        openrlib.rlib.ptr_R_ProcessEvents = openrlib.ffi.NULL
        self.ri = ri
        with openrlib.rlock:
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
    drops the last reference. R_ReleaseObject there races the thread using R
    and corrupts R's precious list (seen as "deallocating None" crashes under
    load). Off the R lock the release is queued; the next `run()` does it.
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
        elif _deferred is not None:  # None while the interpreter is tearing modules down
            _deferred.append(cdata)

    capi._release = guarded


def _release_deferred():
    while _deferred:
        _release(_deferred.popleft())


_default = None
_default_lock = threading.Lock()


def default_session():
    """The process-wide session, started on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RSession()
        return _default

"""The one door to the embedded R.

R may be driven from one thread only, so every R call in a process runs on
one dedicated thread owned by `RSession`. Other threads hand it work and
wait for the result. R is started on that thread, inside the process that
uses it: never fork a process whose R is already initialised.
"""

import logging
import queue
import threading
import warnings
from concurrent.futures import Future

from .settings import R_HELPERS

log = logging.getLogger(__name__)


class RSession:
    """Owns the embedded R of this process and the thread that drives it."""

    def __init__(self, helpers=R_HELPERS):
        self._helpers = helpers
        self._jobs = queue.SimpleQueue()
        self._started = threading.Event()
        self._start_error = None
        self._thread = threading.Thread(target=self._loop, name="r-session", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            raise self._start_error
        self.r_version = self.run(lambda: self.ri.baseenv["R.version.string"][0])

    # ---- public ----------------------------------------------------------

    def run(self, fn, *args, **kwargs):
        """Runs fn(*args, **kwargs) on the R thread and returns its result."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        return self.submit(fn, *args, **kwargs).result()

    def submit(self, fn, *args, **kwargs):
        future = Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    @property
    def alive(self):
        """False once the R thread is gone (readiness reports R down)."""
        return self._thread.is_alive()

    def helper(self, name):
        """An R function defined in r_scripts/bridge.R (call on the R thread)."""
        return self._env[name]

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
            future, fn, args, kwargs = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                # NOTE: the rlock is re-entrant; holding it guards against any
                # other library in the process touching R behind our back.
                with openrlib.rlock:
                    result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def _start_r(self):
        import os

        import rpy2.rinterface as ri

        # Without TZ, R asks timedatectl for the zone, which fails in containers.
        os.environ.setdefault("TZ", "UTC")
        ld_path = os.environ.get("LD_LIBRARY_PATH")
        with warnings.catch_warnings():
            # R started off the main thread owns SIGINT; Python keeps its own
            # handlers, which is what a server wants.
            warnings.filterwarnings("ignore", message="R is not initialized by the main thread")
            ri.initr_simple()
        # NOTE: rpy2 prepends R's library dirs to LD_LIBRARY_PATH, too late to
        # matter here but inherited by every child process (a Python started
        # with it can load the system's libpython instead of its own).
        _restore_env("LD_LIBRARY_PATH", ld_path)
        self.ri = ri
        env = ri.baseenv["new.env"]()
        ri.baseenv["sys.source"](ri.StrSexpVector([str(self._helpers)]), envir=env)
        self._env = env
        log.info("embedded R started, helpers from %s", self._helpers)


def _restore_env(name, value):
    import os

    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


_default = None
_default_lock = threading.Lock()


def default_session():
    """The process-wide session, started on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RSession()
        return _default

"""The R worker processes, supervised from the front.

Each worker has a handle here: a thread of the front that starts its
process, feeds it jobs from the dispatcher one R call at a time, and waits
for the answer while watching three things:
- the call's deadline: past it, the expired requests are answered 504 at
  once, the process is killed (R cannot be stopped reliably any other way:
  not in compiled code, not in Sys.sleep) and started again;
- the process's memory (--worker-memory): past it, the same, with a 507;
- the process itself: if it dies, the request that was running gets a 502
  with the exit code or signal; requests batched with it are run again one
  by one (they may be innocent), and everything still queued simply goes to
  the next free worker.

A started (or restarted) worker loads exactly the file versions the pool
serves before it takes any request, so every worker answers alike.
"""

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection

from .. import metrics
from ..errors import (BridgeError, ModelLoadError, PlumberLoadError, PredictTimeout, WorkerCrashed,
                      WorkerOutOfMemory, WorkerStartError)
from ..settings import ROOT
from .dispatcher import Dispatcher, Job, claim
from .messages import Load, Predict, Ready, Reply, Unload, error_from_wire, receive, send

log = logging.getLogger(__name__)

PAGE = os.sysconf("SC_PAGE_SIZE")


class WorkerHandle:
    """One R worker process and the front thread that drives it."""

    def __init__(self, pool, index):
        self.pool = pool
        self.index = index
        self.proc = None
        self.conn = None
        self.pid = None
        self.state = "starting"     # starting | ready | stopped
        self.started = 0            # processes started so far
        self.last_exit = None       # why the previous process ended
        self._exit_handled = False  # that exit was answered for (by _end)
        # Whoever talks to the pipe holds this: this handle's thread (a batch,
        # a load, a restart) or a request's own thread (Pool.predict, inline).
        self.pipe_lock = threading.Lock()
        self._kill_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"r-worker-{index}", daemon=True)

    def start(self):
        self._thread.start()

    # ---- the handle's thread ------------------------------------------------------

    def _run(self):
        failures = 0
        while not self.pool.stopping:
            try:
                with self.pipe_lock:
                    self._start()
                failures = 0
            except WorkerStartError as exc:
                self._kill()
                if exc.details.get("fatal"):
                    self.pool._start_failed(exc)
                    return
                failures += 1
                log.error("R worker %d did not start (%s); retrying", self.index, exc.description)
                time.sleep(min(30.0, 0.5 * 2 ** failures))
                continue
            self._serve()
            with self.pipe_lock:
                self._kill()
        self._kill()

    def _start(self):
        self.state = "starting"
        self._exit_handled = False
        self.pool._changed()
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bridge.workers.worker", str(theirs.fileno()),
                 json.dumps(self.pool.worker_config)],
                pass_fds=(theirs.fileno(),), env=env, cwd=tempfile.gettempdir(),
                stdin=subprocess.DEVNULL,
                # A terminal's Ctrl-C or a supervisor's group-wide SIGTERM is for
                # the front: it drains, then stops its workers itself.
                start_new_session=True)
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.pid = self.proc.pid
        self.started += 1
        hello = self._receive(self.pool.settings.start_timeout, "start")
        if isinstance(hello, Reply):  # R or a Plumber file failed: nothing to retry
            raise WorkerStartError(error_from_wire(hello.error).description, fatal=True,
                                   error=hello.error)
        if not isinstance(hello, Ready):
            raise WorkerStartError(f"unexpected first message {type(hello).__name__}")
        for load in self.pool.served():
            reply = self._call(load, self.pool.settings.load_timeout, f"loading {load.path}")
            if reply.error is not None:
                log.error("R worker %d: a served file failed to load again: %s",
                          self.index, error_from_wire(reply.error).description)
        self.state = "ready"
        log.info("R worker %d ready (pid %d, %s)", self.index, self.pid, hello.r_version)
        self.pool.r_version = hello.r_version
        self.pool._changed()

    def _receive(self, timeout, what):
        """One message from the process during start-up, or WorkerStartError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.conn.poll(0.1):
                    return receive(self.conn)
            except (EOFError, OSError):
                break
            if self.proc.poll() is not None and not self.conn.poll(0):
                break
        reason = self._exit_reason() if self.proc.poll() is not None else f"no answer within {timeout:g} s"
        raise WorkerStartError(f"R worker {self.index} failed during {what}: {reason}")

    def _call(self, message, timeout, what):
        send(self.conn, message)
        return self._receive(timeout, what)

    def _serve(self):
        """Takes jobs until the process is gone or the pool stops."""
        while True:
            # An idle worker that dies is noticed here, not by the next request.
            jobs = self.pool.dispatcher.take(
                self, lambda: self.pool.stopping or self.proc.poll() is not None)
            if not jobs:
                if not self.pool.stopping and not self._exit_handled:
                    self.last_exit = self._exit_reason()
                    log.error("R worker %d (pid %d) died while idle: %s", self.index, self.pid,
                              self.last_exit)
                    metrics.worker_replaced("died")
                return
            with self.pipe_lock:
                if self.state != "ready":
                    # a request's own thread ended this process meanwhile
                    self._give_back(jobs)
                    return
                if not self._run_jobs(jobs):
                    return

    def run_inline(self, job):
        """Runs one claimed job on the caller's thread if this worker is idle:
        no hand-off to this handle's thread and back. False if it is busy."""
        if self.state != "ready" or not self.pipe_lock.acquire(blocking=False):
            return False
        try:
            if self.state != "ready" or self.proc.poll() is not None or not claim(job):
                return False
            self._run_jobs([job])
            return True
        finally:
            self.pipe_lock.release()

    def _give_back(self, jobs):
        requests = [j for j in jobs if j.is_request]
        self.pool.dispatcher.requeue(requests)
        for job in jobs:
            if job not in requests:
                self.pool.dispatcher.control(self, job, first=True)

    def _run_jobs(self, jobs):
        """Sends one R call; True while the process lives on."""
        now = time.monotonic()
        live = []
        for job in jobs:
            if not job.is_request and job.deadline is None:
                job.deadline = now + self.pool.settings.load_timeout
            if job.deadline is not None and now >= job.deadline:
                job.future.set_exception(PredictTimeout(_timeout_text(job)))
            else:
                live.append(job)
        if not live:
            return True
        try:
            send(self.conn, _message(live))
        except (OSError, ValueError):
            # Gone before it saw the call: requests go to whichever worker is
            # free next, control jobs wait for this one's replacement.
            self._give_back(live)
            return False
        outcome, value = self._await(live)
        if outcome == "reply":
            _deliver(live, value)
            if live[0].kind == "predict":
                for callback in self.pool.dispatcher.on_batch:
                    callback(live[0].model.name, sum(j.rows for j in live), len(live))
            return True
        self._end(live, outcome, value)
        return False

    def _await(self, jobs):
        deadlines = [j.deadline for j in jobs if j.deadline is not None]
        deadline = min(deadlines) if deadlines else None
        limit = self.pool.settings.worker_memory
        next_check = time.monotonic() + 0.2
        # One poller for the whole wait: Connection.poll() builds a selector per call.
        poller = select.poll()
        poller.register(self.conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        while True:
            wait = 0.2
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                if poller.poll(wait * 1000):
                    return "reply", receive(self.conn)
            except (EOFError, OSError):
                return "died", None
            now = time.monotonic()
            if self.proc.poll() is not None:
                return "died", None
            if deadline is not None and now >= deadline:
                return "timeout", None
            if limit and now >= next_check:
                next_check = now + 0.2
                rss = _rss(self.pid)
                if rss > limit:
                    return "memory", rss

    def _end(self, jobs, outcome, value):
        """The call did not come back: answer for it, kill the process (this
        handle's thread starts the next one)."""
        self._exit_handled = True
        if outcome == "died":
            self.proc.wait()
            self.last_exit = self._exit_reason()
            log.error("R worker %d (pid %d) died: %s", self.index, self.pid, self.last_exit)
        else:
            self._kill()
            self.last_exit = f"killed: {outcome}"
        metrics.worker_replaced(outcome)
        requests = [j for j in jobs if j.is_request]
        self._fail_control([j for j in jobs if j not in requests],
                           f"the R worker {'died' if outcome == 'died' else 'was stopped'} "
                           f"({self.last_exit})")
        if outcome == "timeout":
            now = time.monotonic()
            expired = [j for j in requests if j.deadline is not None and now >= j.deadline]
            for job in expired:
                job.future.set_exception(PredictTimeout(_timeout_text(job)))
            log.warning("R worker %d: a call passed its deadline; killed pid %d", self.index, self.pid)
            # batch-mates still in time were innocent bystanders: run them again, alone
            self.pool.dispatcher.requeue([j for j in requests if j not in expired], solo=True)
        elif outcome == "memory":
            limit = self.pool.settings.worker_memory
            log.warning("R worker %d: %d MiB is over --worker-memory (%d MiB); killed pid %d",
                        self.index, value >> 20, limit >> 20, self.pid)
            if len(requests) > 1:
                self.pool.dispatcher.requeue(requests, solo=True)
            for job in requests if len(requests) == 1 else ():
                job.future.set_exception(WorkerOutOfMemory(
                    f"this request made its R worker grow to {value >> 20} MiB, over the "
                    f"{limit >> 20} MiB it may use (--worker-memory); the worker was replaced. "
                    "Send fewer rows, or ask the operator for a larger limit",
                    rss_mib=value >> 20, limit_mib=limit >> 20))
        else:  # died
            fresh = [j for j in requests if len(requests) > 1 and j.attempts == 0]
            if fresh:
                self.pool.dispatcher.requeue(fresh, solo=True)
            for job in requests:
                if job not in fresh:
                    job.future.set_exception(WorkerCrashed(
                        f"the R worker running this request exited ({self.last_exit}); it was "
                        "replaced. The request may be retried; if it fails again, the model or "
                        "its packages crash R on this input", exit=self.last_exit))

    def _fail_control(self, jobs, why):
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(ModelLoadError(f"{why}; the previous version keeps serving"))

    def _exit_reason(self):
        code = self.proc.returncode if self.proc else None
        if code is None:
            return "still running"
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def _kill(self):
        with self._kill_lock:  # the handle's thread and Pool.stop() may both come here
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            conn, self.conn = self.conn, None
            if conn is not None:
                try:
                    conn.close()
                except OSError:
                    pass
        if self.state != "stopped":
            self.state = "stopped" if self.pool.stopping else "starting"
        self.pool._changed()


def _message(jobs):
    first = jobs[0]
    if first.kind == "predict":
        return Predict.of(first.model.file_id, first.model.name, [j.item for j in jobs])
    return first.message


def _deliver(jobs, reply):
    if reply.error is not None:
        exc = error_from_wire(reply.error)
        for job in jobs:
            job.future.set_exception(exc)
        return
    if jobs[0].kind == "predict":
        for job, (error, prediction) in zip(jobs, reply.value):
            if error is not None:
                job.future.set_exception(error_from_wire(error))
            else:
                job.future.set_result(prediction)
        return
    jobs[0].future.set_result(reply.value)


def _timeout_text(job):
    what = "predict()" if job.kind == "predict" else "the call"
    return f"{what} did not finish within its time limit; its R worker was stopped and replaced"


def _rss(pid):
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Pool:
    """N R worker processes behind one dispatcher."""

    def __init__(self, settings, plumber_files=()):
        self.settings = settings
        self.dispatcher = Dispatcher(settings.max_queue, settings.batch_max_rows)
        self.worker_config = {
            "max_response_bytes": settings.max_response_bytes,
            "predict_timeout": settings.predict_timeout,
            "log_level": settings.log_level,
            "plumber_files": [str(p) for p in plumber_files],
            "plumber_bare": settings.plumber_bare,
        }
        self.handles = [WorkerHandle(self, i) for i in range(max(1, settings.workers))]
        self.stopping = False
        self.r_version = ""
        self._served = {}     # file_id -> Load, in load order
        self._lock = threading.Lock()
        self._cv = threading.Condition()
        self._fatal = None

    # ---- life ----------------------------------------------------------------------

    def start(self, wait=True):
        for handle in self.handles:
            handle.start()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=None):
        """Until every worker is ready; raises what stopped one from starting."""
        timeout = timeout or self.settings.start_timeout * 2
        with self._cv:
            ok = self._cv.wait_for(lambda: self._fatal is not None
                                   or all(h.state == "ready" for h in self.handles), timeout)
        if self._fatal is not None:
            error = self._fatal.details.get("error")
            if error is not None:
                raise error_from_wire(error)
            raise self._fatal
        if not ok:
            raise WorkerStartError(f"R workers not ready after {timeout:g} s")

    def stop(self):
        self.stopping = True
        self.dispatcher.close()
        for handle in self.handles:
            handle._kill()

    def _changed(self):
        metrics.workers_ready(self.available)
        with self._cv:
            self._cv.notify_all()

    def _start_failed(self, exc):
        with self._cv:
            self._fatal = exc
            self._cv.notify_all()

    @property
    def available(self):
        """How many workers can take work now (readiness)."""
        return sum(1 for h in self.handles if h.state == "ready")

    def status(self):
        return [{"worker": h.index, "pid": h.pid, "state": h.state, "started": h.started,
                 "last_exit": h.last_exit} for h in self.handles]

    # ---- requests (HTTP threads) ------------------------------------------------------

    def predict(self, model, item, key, rows, timeout):
        job = Job("predict", None, key=key, rows=rows, model=model, item=item,
                  deadline=time.monotonic() + timeout)
        # Nobody waiting and a worker idle: run on this thread (saves two
        # thread hand-offs). Otherwise queue, where batches form.
        if not (self.dispatcher.queue_depth() == 0
                and any(handle.run_inline(job) for handle in self.handles)):
            self.dispatcher.submit(job)
        return self.dispatcher.wait(job)

    def call(self, message, timeout, what="the call", pinned=False):
        """Any one worker runs `message` (a Plumber request, a question); with
        `pinned`, always the first one (stateful Plumber files)."""
        job = Job("call", message, deadline=time.monotonic() + timeout)
        if pinned:
            self.dispatcher.control(self.handles[0], job)
        else:
            self.dispatcher.submit(job)
        return self.dispatcher.wait(job, what)

    def queue_depth(self):
        return self.dispatcher.queue_depth()

    # ---- served file versions (the registry's thread) ------------------------------------------

    def served(self):
        with self._lock:
            return list(self._served.values())

    def load(self, file_id, path):
        """Loads a file version into every worker, one after the other (the
        others keep serving meanwhile). Returns the first worker's view of it;
        if any worker fails, it is unloaded from all and the error raised."""
        message = Load(file_id, str(path))
        views, done = [], []
        try:
            for handle in self.handles:
                job = Job("load", message, deadline=None)
                self.pool_control(handle, job)
                views.append(self._control_result(job))
                done.append(handle)
        except BridgeError:
            for handle in done:
                self.pool_control(handle, Job("unload", Unload(file_id)))
            raise
        with self._lock:
            self._served[file_id] = message
        return views[0]

    def unload(self, file_id):
        with self._lock:
            self._served.pop(file_id, None)
        for handle in self.handles:
            self.pool_control(handle, Job("unload", Unload(file_id)))

    def pool_control(self, handle, job):
        return self.dispatcher.control(handle, job)

    def _control_result(self, job):
        timeout = self.settings.load_timeout + self.settings.start_timeout
        try:
            reply_value = job.future.result(timeout)
        except TimeoutError:
            raise ModelLoadError(f"loading took longer than {timeout:g} s") from None
        return reply_value


__all__ = ["Pool", "WorkerHandle", "WorkerStartError", "PlumberLoadError"]

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

Loads: a file new to the pool is loaded first by whichever worker is free
(dispatcher.py's first-load queue; files load side by side on several
workers), and is served from that worker as soon as it has loaded; the
other workers then catch up with it between their requests. A started (or
restarted) worker is ready at once and catches up with the file versions
the pool serves one file at a time, quickest first, serving each as soon as
it has it; a request goes only to a worker that has loaded its file, so
every answer comes from the version served. Every load has --load-timeout:
past it, the worker is killed and the load reported as failed.
"""

import dataclasses
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
from concurrent.futures import Future
from multiprocessing.connection import Connection

from .. import metrics
from ..errors import (ModelLoadError, NoSpareWorker, PlumberLoadError, PredictTimeout,
                      WorkerCrashed, WorkerOutOfMemory, WorkerStartError)
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
        self.loaded = set()         # file ids this process has loaded (requests for them come here)
        self.pending = set()        # file ids queued for it to catch up with
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
        for end in (ours, theirs):
            _widen(end)
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
        # Ready with nothing loaded: it catches up file by file between requests.
        self.pool._catch_up(self, fresh=True)
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
            if (self.state != "ready" or self.proc.poll() is not None
                    or (job.file_id is not None and job.file_id not in self.loaded)
                    or not claim(job)):
                return False
            self._run_jobs([job])
            return True
        finally:
            self.pipe_lock.release()

    def _give_back(self, jobs):
        requests = [j for j in jobs if j.is_request]
        self.pool.dispatcher.requeue(requests)
        for job in jobs:
            if job.kind == "first-load":  # any other worker may take it
                self.pool.dispatcher.requeue_load(job)
            elif job not in requests:
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
            live[0].seconds = time.monotonic() - now
            if live[0].kind in LOADS and value.error is None:
                # Before the caller hears of it: its requests may come here at once.
                self.loaded.add(live[0].message.file_id)
            elif live[0].kind == "unload":
                self.loaded.discard(live[0].message.file_id)
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
        if outcome == "timeout" and jobs[0].kind in LOADS:
            why = (f"loading did not finish within {self.pool.settings.load_timeout:g} s "
                   "(--load-timeout); its R worker was stopped and replaced")
        else:
            why = (f"the R worker {'died' if outcome == 'died' else 'was stopped'} "
                   f"({self.last_exit})")
        self._fail_control([j for j in jobs if j not in requests], why)
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


LOADS = ("load", "first-load")


def _message(jobs):
    first = jobs[0]
    if first.kind == "predict":
        return Predict.of(first.model.file_id, first.model.name, [j.item for j in jobs],
                          getattr(first.model, "schema", None))
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


# NOTE: a 100,000-row call is ~2.4 MB down the pipe and ~0.8 MB back; with
# the socket's default 208 KiB buffers its reader woke a dozen times per
# message: 2.4 MB took 1.6-1.9 ms against 0.45 ms with 4 MiB (two processes,
# this VM). The kernel caps the request at net.core.wmem_max / rmem_max
# without a word (212992 on many systems: then nothing changes); the memory
# is only used while a message is in flight.
PIPE_BUFFER_BYTES = 4 * 2**20


def _widen(sock):
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, PIPE_BUFFER_BYTES)
        except OSError:
            pass


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
            "spin": settings.worker_spin,
        }
        self.handles = [WorkerHandle(self, i) for i in range(max(1, settings.workers))]
        self.stopping = False
        self.r_version = ""
        self._served = {}     # file_id -> Load, in load order
        self._seconds = {}    # file_id -> how long its first load took (catch-ups go quickest first)
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
        """How many workers can take any request now (readiness): up, and
        caught up with every file served. One still catching up already
        serves the files it has."""
        return sum(1 for h in self.handles if h.state == "ready" and not h.pending)

    def status(self):
        return [{"worker": h.index, "pid": h.pid, "state": h.state, "started": h.started,
                 "last_exit": h.last_exit, "files_loaded": len(h.loaded),
                 "files_to_load": len(h.pending)} for h in self.handles]

    # ---- requests (HTTP threads) ------------------------------------------------------

    def predict(self, model, item, key, rows, timeout):
        job = Job("predict", None, key=key, rows=rows, model=model, item=item,
                  deadline=time.monotonic() + timeout, file_id=model.file_id)
        # Nobody waiting and a worker idle: run on this thread (saves two
        # thread hand-offs). Otherwise queue, where batches form.
        if not self._run_inline(job, self.handles):
            self.dispatcher.submit(job)
        return self.dispatcher.wait(job)

    def _run_inline(self, job, handles):
        """Runs `job` on this thread on the first of `handles` that is idle,
        if no caller is waiting for a worker; False when it did not."""
        return self.dispatcher.queue_depth() == 0 and any(h.run_inline(job) for h in handles)

    def predict_spare(self, model, item, rows, timeout):
        """`predict` only on a spare worker, within `timeout` (a shadow call,
        bridge/versions/shadow.py); NoSpareWorker when there is none."""
        job = Job("predict", None, rows=rows, model=model, item=item,
                  deadline=time.monotonic() + timeout, file_id=model.file_id)
        return self._run_spare(job)

    def call_spare(self, message, timeout, file_id=None):
        """`call` only on a spare worker, within `timeout`; NoSpareWorker when none."""
        return self._run_spare(Job("call", message, deadline=time.monotonic() + timeout,
                                   file_id=file_id))

    def _run_spare(self, job):
        """Runs `job` on this thread on an idle worker while no caller waits
        for one; never queued: NoSpareWorker when none is idle. (Its
        deadline bounds how long a caller arriving meanwhile can wait.)"""
        if not self._run_inline(job, reversed(self.handles)):  # the callers' last choice first
            raise NoSpareWorker("no R worker is idle")
        return self.dispatcher.wait(job)

    def call(self, message, timeout, what="the call", pinned=False, file_id=None):
        """Any one worker runs `message` (a Plumber request, a question); with
        `pinned`, always the first one (stateful Plumber files); with
        `file_id`, one that has loaded that file version."""
        job = Job("call", message, deadline=time.monotonic() + timeout, file_id=file_id)
        if pinned:
            self.dispatcher.control(self.handles[0], job)
        else:
            self.dispatcher.submit(job)
        return self.dispatcher.wait(job, what)

    def queue_depth(self):
        return self.dispatcher.queue_depth()

    # ---- served file versions (the registry's thread) ------------------------------------------

    def load(self, file_id, path):
        """Loads a file version; returns the view of its models from the
        worker that loaded it first (blocks until then). Raises what stopped
        it loading (ModelLoadError past --load-timeout)."""
        future = self.load_async(file_id, path)
        while True:
            try:
                return future.result(1.0)
            except TimeoutError:
                if self.stopping:
                    raise ModelLoadError("the server stopped before the file loaded") from None

    def load_async(self, file_id, path):
        """Queues a file version's first load for whichever worker is free;
        a Future of its view. Once loaded there it is served (workers
        started later catch up with it), and every other worker is told to
        catch up with it."""
        message = Load(file_id, str(path))
        job = Job("first-load", message)
        answer = Future()

        def loaded(done):
            if done.cancelled():
                answer.set_exception(ModelLoadError("the server stopped before the file loaded"))
                return
            if done.exception() is not None:
                answer.set_exception(done.exception())
                return
            with self._lock:
                self._served[file_id] = message
                self._seconds[file_id] = job.seconds or 0.0
                for handle in self.handles:
                    self._queue_catch_up(handle, message)
            answer.set_result(done.result())

        job.future.add_done_callback(loaded)
        self.dispatcher.load(job)
        return answer

    def unload(self, file_id):
        with self._lock:
            self._served.pop(file_id, None)
            self._seconds.pop(file_id, None)
        for handle in self.handles:
            self.dispatcher.control(handle, Job("unload", Unload(file_id)))

    def _catch_up(self, handle, fresh=False):
        """Queues, for a worker, every served file version it lacks, quickest
        to load first. `fresh`: a new process, which has loaded nothing."""
        with self._lock:
            if fresh:
                self.dispatcher.forget(handle)
                handle.loaded, handle.pending = set(), set()
            for file_id in sorted(self._served, key=lambda f: self._seconds.get(f, 0.0)):
                self._queue_catch_up(handle, self._served[file_id])

    def _queue_catch_up(self, handle, message):
        # Under self._lock: a worker starting now queues it itself (_catch_up).
        if message.file_id in handle.loaded or message.file_id in handle.pending:
            return
        handle.pending.add(message.file_id)
        # NOTE: no example-row probe here. The front has the first load's; a
        # model whose predict() is slow (a sidecar sleeping 60 s, found in
        # stop 31's attack pass) held every restarted worker that long again,
        # and files added meanwhile answered 503 "still loading".
        job = Job("load", dataclasses.replace(message, probe=False))

        def done(future):
            handle.pending.discard(message.file_id)
            if not future.cancelled() and future.exception() is not None:
                log.error("R worker %d: served file %s did not load there: %s", handle.index,
                          message.path, getattr(future.exception(), "description", future.exception()))
            if not handle.pending:
                self._changed()

        job.future.add_done_callback(done)
        self.dispatcher.control(handle, job)


__all__ = ["Pool", "WorkerHandle", "WorkerStartError", "PlumberLoadError"]

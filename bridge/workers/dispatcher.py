"""The one queue of work waiting for R, shared by every R worker.

HTTP threads `submit` jobs and wait on their futures; each worker's thread
in the front (pool.WorkerHandle) `take`s the next thing to send down its
pipe: first any control job meant for that worker (unload, and the loads
by which a started worker catches up with the files served), else the
oldest waiting job it can run together with every other waiting job that
can share its R call (same model, same arguments, same column types: its
batch key), else the next file waiting for its first load. So batches form
across all waiting requests, whichever worker frees first.

Loads and requests interleave: after a load, a worker runs one batch of
what waits (if anything does) before its next load, so neither a folder of
files being loaded nor a stream of requests holds the other. A request
goes only to a worker that has loaded its file (`handle.loaded`): a worker
that is catching up serves the files it has while it loads the rest, and
the first load of a file is taken by whichever worker is free, so a file
whose load hangs holds one worker, not the others' loads.

Deadlines are the submitter's: a job still queued at its deadline is
cancelled by the thread that waits for it; a job already running is the
worker handle's business (it kills the R process at the deadline).
"""

import collections
import dataclasses
import threading
import time
from concurrent.futures import Future

from ..errors import Overloaded, PredictTimeout


@dataclasses.dataclass(eq=False)
class Job:
    # "predict" | "call" (Plumber, forecast, a question) | "load" (a worker's
    # catch-up) | "first-load" (a file new to the pool, any worker) | "unload"
    kind: str
    message: object            # what goes down the pipe (messages.py); predict: built per batch
    future: Future = dataclasses.field(default_factory=Future)
    key: object = None         # batch key; None runs alone
    rows: int = 0
    deadline: float = None     # time.monotonic() by which it must be answered
    model: object = None       # the front's model view, for predict jobs
    item: tuple = None         # predict: (prepared, nrows, args, caller)
    solo: bool = False         # re-run alone after its batch failed as a whole
    attempts: int = 0
    file_id: str = None        # runs only on a worker that has loaded this file version
    ran_on: object = None      # the worker handle that took it
    seconds: float = None      # how long its R call took (loads: the pool orders catch-ups by it)

    @property
    def is_request(self):
        """A caller's request (answered, retried, timed out), not a worker's control job."""
        return self.kind in ("predict", "call")


class Dispatcher:
    def __init__(self, max_queue=256, max_batch_rows=10_000):
        self.max_queue = max_queue
        self.max_batch_rows = max_batch_rows
        self._cv = threading.Condition()
        self._queue = collections.deque()
        self._control = collections.defaultdict(collections.deque)
        self._loads = collections.deque()  # files waiting for their first load, any worker
        self._owed = set()                 # handles that run a batch (if one waits) before their next load
        self._closed = False
        self.on_batch = []  # callbacks(model_name, rows, requests)

    # ---- the HTTP side ---------------------------------------------------------------

    def submit(self, job):
        """Queues a job for any worker; 503 when too many already wait."""
        with self._cv:
            if len(self._queue) >= self.max_queue:
                raise Overloaded(f"{len(self._queue)} requests are already waiting for R; retry shortly")
            self._queue.append(job)
            self._cv.notify_all()
        return job.future

    def wait(self, job, what="predict()"):
        """The job's result, or 504 at its deadline. A job still waiting in the
        queue then is taken out of it; one running is answered by its worker
        handle at the deadline (it kills the R process), so this waits for that."""
        timeout = None if job.deadline is None else max(0.0, job.deadline - time.monotonic())
        try:
            return job.future.result(timeout)
        except TimeoutError:
            pass
        with self._cv:
            queued = job.future.cancel()
            if not queued and job in self._queue:  # requeued after its worker died
                self._queue.remove(job)
                queued = True
        if queued:
            raise PredictTimeout(f"{what} did not finish within its time limit: it was still "
                                 "waiting for a free R worker", waited_for="R worker")
        return job.future.result(30.0)

    def queue_depth(self):
        return len(self._queue)

    # ---- the worker side -----------------------------------------------------------

    def control(self, handle, job, first=False):
        """Queues a job for one worker, ahead of any waiting request."""
        with self._cv:
            if first:
                self._control[handle].appendleft(job)
            else:
                self._control[handle].append(job)
            self._cv.notify_all()
        return job.future

    def load(self, job):
        """Queues a file's first load, for whichever worker is free first."""
        with self._cv:
            self._loads.append(job)
            self._cv.notify_all()
        return job.future

    def forget(self, handle):
        """Drops what was queued for a worker's previous process (its
        replacement starts with nothing loaded and catches up afresh)."""
        with self._cv:
            queued = self._control.get(handle, ())
            dropped = [j for j in queued if j.kind in ("load", "unload")]
            self._control[handle] = collections.deque(j for j in queued if j not in dropped)
            self._owed.discard(handle)
        for job in dropped:
            job.future.cancel()

    def take(self, handle, stopped):
        """The next jobs for `handle`: a control job alone, a batch, or a
        first load alone. Blocks; returns [] once `stopped()` is true."""
        with self._cv:
            while True:
                if stopped() or self._closed:
                    return []
                if handle in self._owed:
                    self._owed.discard(handle)
                    batch = self._batch(handle)
                    if batch:
                        return batch
                control = self._control.get(handle)
                while control:
                    job = control.popleft()
                    if claim(job):  # not given up on by its caller
                        return self._took(handle, job)
                batch = self._batch(handle)
                if batch:
                    return batch
                while self._loads:
                    job = self._loads.popleft()
                    if claim(job):
                        return self._took(handle, job)
                self._cv.wait(0.5)

    def _took(self, handle, job):
        job.ran_on = handle
        if job.kind in ("load", "first-load"):
            self._owed.add(handle)
        return [job]

    def _batch(self, handle):
        """The oldest waiting request `handle` can run, with its batch-mates.
        Requests for files it has not loaded stay queued, in order."""
        loaded = handle.loaded
        keep = collections.deque()
        first = None
        while self._queue:
            job = self._queue.popleft()
            if job.file_id is not None and job.file_id not in loaded:
                if not job.future.cancelled():
                    keep.append(job)
                continue
            if claim(job):
                first = job
                break
        if first is None:
            self._queue = keep
            return []
        batch = [first]
        if first.key is not None and not first.solo:
            rows = first.rows
            rest = collections.deque()
            while self._queue:
                job = self._queue.popleft()
                if job.key == first.key and not job.solo and rows + job.rows <= self.max_batch_rows:
                    if claim(job):
                        batch.append(job)
                        rows += job.rows
                elif not job.future.cancelled():
                    rest.append(job)
            self._queue = rest
        if keep:
            keep.extend(self._queue)
            self._queue = keep
        return batch

    def requeue_load(self, job):
        """A first load whose worker went before it ran: first in line again."""
        with self._cv:
            self._loads.appendleft(job)
            self._cv.notify_all()

    def requeue(self, jobs, solo=False):
        """Jobs that never finished on a worker that died: first in line again.
        Their futures stay running; the callers keep waiting on them."""
        with self._cv:
            for job in reversed(jobs):
                job.solo = job.solo or solo
                job.attempts += 1
                self._queue.appendleft(job)
            self._cv.notify_all()

    def close(self):
        with self._cv:
            self._closed = True
            self._cv.notify_all()


def claim(job):
    """Marks a queued job as taken: False if its caller gave up on it."""
    if job.future.running():  # requeued: it was taken before
        return True
    return job.future.set_running_or_notify_cancel()

"""Observers of the service's calls: each one's `observe(event)` runs on the
caller's thread, so it must not block (enqueue, drop and count on full). An
observer's exception never reaches the caller: it is logged once per
observer, and counted."""

import logging
import queue
import threading
import time

from .. import metrics

log = logging.getLogger(__name__)


class Observers:
    def __init__(self, observers=()):
        self._observers = list(observers)
        self._failed = set()   # observers whose failure was logged already
        self._lock = threading.Lock()
        self.failures = 0

    def add(self, observer):
        with self._lock:
            self._observers = [*self._observers, observer]  # replaced whole: readers never lock

    def __iter__(self):
        return iter(self._observers)

    def notify(self, event):
        for observer in self._observers:
            try:
                observer.observe(event)
            except Exception:
                self._failure(observer)

    def _failure(self, observer):
        with self._lock:
            self.failures += 1
            first = id(observer) not in self._failed
            self._failed.add(id(observer))
        if first:
            log.exception("observer %s failed; its failures are counted in "
                          "bridge_observer_failures_total and not logged again",
                          type(observer).__name__)
        try:
            metrics.observer_failed(type(observer).__name__)
        except Exception:
            pass


class Queued:
    """Runs a slow observer (a log writer, a shadow call) on its own thread:
    `observe` only enqueues; when the queue is full the event is dropped and
    counted (`dropped`), never waited for. The inner observer's exceptions are
    logged once and counted, as for any observer.

    Optional: `tick` seconds -> the observer's `tick()` runs on its thread at
    least that often (time-based work: a log file's age); `on_drop(event)` is
    told of each dropped event, on the caller's thread (it must not block
    either: an observer's own metric); an observer's `close()` runs on its
    thread once the queue is drained (`close`); `batch` seconds -> after the
    events waiting are observed, the thread pauses that long before it looks
    again (an event then waits up to that long, for a wake-up per batch)."""

    def __init__(self, observer, maxsize=10_000, name=None, tick=None, on_drop=None, batch=None):
        self.observer = observer
        self.dropped = 0
        self._tick = tick
        self._batch = batch
        self._on_drop = on_drop
        self._queue = queue.Queue(maxsize)
        self._inner = Observers([observer])
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=name or f"observer-{type(observer).__name__}")
        self._thread.start()

    def observe(self, event):
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1  # for tests and logs; the metric is the count to trust
            metrics.observer_dropped(type(self.observer).__name__)
            if self._on_drop is not None:
                self._on_drop(event)

    def _run(self):
        self._last_tick = time.monotonic()
        while True:
            try:
                event = self._queue.get(timeout=self._tick)
            except queue.Empty:
                event = _TICK
            if not self._handle(event):
                return
            if self._batch and event is not _TICK:
                # What came meanwhile, then a pause for more to gather: a
                # wake-up per batch, not per call. NOTE: the wake-up (GIL and
                # condition hand-off) was ~3/4 of these threads' front CPU at
                # 32 connections (py-spy --gil; the observing itself the rest).
                while True:
                    try:
                        event = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if not self._handle(event):
                        return
                time.sleep(self._batch)

    def _ticked(self):
        """The observer's tick() when it is due (also while a drain never ends)."""
        if self._tick is not None and time.monotonic() - self._last_tick >= self._tick:
            self._last_tick = time.monotonic()
            self._call("tick")

    def _handle(self, event):
        """Observes one event; False once it was the stop mark (after close())."""
        try:
            if event is None:
                self._call("close")
                return False
            if event is not _TICK:
                self._inner.notify(event)
            self._ticked()
            return True
        finally:
            if event is not _TICK:
                self._queue.task_done()

    def _call(self, method):
        function = getattr(self.observer, method, None)
        if function is not None:
            try:
                function()
            except Exception:
                self._inner._failure(self.observer)

    def join(self):
        """Waits until every queued event was observed (tests, shutdown)."""
        self._queue.join()

    def discard_pending(self):
        """Drops (and counts) every event still waiting: for an observer whose
        pending work is worthless at shutdown (shadow calls)."""
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return
            if event is not None:
                self.dropped += 1
                metrics.observer_dropped(type(self.observer).__name__)
            self._queue.task_done()

    def close(self, timeout=None):
        """Stops after the events queued so far (and the observer's close())
        were handled, waiting at most `timeout` seconds; True when it did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return False
        self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()


_TICK = object()

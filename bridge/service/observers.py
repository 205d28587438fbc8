"""Observers of the service's calls: each one's `observe(event)` runs on the
caller's thread, so it must not block (enqueue, drop and count on full). An
observer's exception never reaches the caller: it is logged once per
observer, and counted."""

import logging
import threading

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
        from .. import metrics

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

"""Whether this server should get traffic (front side, any thread).

`Readiness` is the process's own state, starting -> ready -> draining,
flipped by whoever runs the process: `set_ready()` once the first scan of
the model folder is done (bridge/server.py; models are served as they load
before that), `set_draining()` on SIGTERM. Draining is final; `scanned`
stays true once the first scan is done. `ReadinessReport` is
what `Service.readiness()` answers: that state with the R workers' and the
models' counts, which every probe (/readyz, V2 ready, MLflow /ping) renders.
"""

import dataclasses
import threading

STARTING, READY, DRAINING = "starting", "ready", "draining"


class Readiness:
    def __init__(self, ready=False):
        self._state = READY if ready else STARTING
        self.scanned = ready
        self._lock = threading.Lock()

    @property
    def state(self):
        return self._state

    def set_ready(self):
        with self._lock:
            self.scanned = True
            if self._state != DRAINING:
                self._state = READY

    def set_draining(self):
        with self._lock:
            self._state = DRAINING

    @property
    def ready(self):
        return self._state == READY


@dataclasses.dataclass(frozen=True)
class ReadinessReport:
    state: str           # starting, ready or draining
    serving: bool        # should get traffic: ready and an R worker can take work
    workers_ready: int
    workers_total: int
    models: int
    scanned: bool = True  # the first scan of the model folder is done
    loading: int = 0      # model files loading now

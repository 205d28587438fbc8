"""The loop inside one R worker process.

Started by pool.py as `python -m bridge.workers.worker FD CONFIG` (a fresh
interpreter, never a fork of a process that holds R), with the pipe's end
as file descriptor FD. It starts R on its main thread, in an empty private
working directory, loads the Plumber files it is given, says Ready, then
answers one message at a time until the pipe closes.

Nothing here interrupts R or watches the clock: the front decides when a
call has run too long or grown too large, and kills this process.
"""

import json
import logging
import os
import select
import sys
import tempfile
import time
from multiprocessing.connection import Connection

from .messages import (Forecast, Load, PlumberCall, PlumberInfo, Predict, Ready, Reply, Unload,
                       error_to_wire, receive, send)

log = logging.getLogger("bridge.worker")


class Worker:
    def __init__(self, session, plumber=None):
        self.session = session
        self.plumber = plumber
        self.files = {}  # file_id -> FileModels (served name -> RModel)

    def handle(self, msg):
        if isinstance(msg, Predict):
            model = self.files[msg.file_id][msg.name]
            # In run(): it holds R and first releases the R objects whose
            # wrappers died since the last call (bridge/r/session.py).
            results = self.session.run(model.predict_many, msg.items(model.schema))
            return [(None, r) if not isinstance(r, BaseException) else (error_to_wire(r), None)
                    for r in results]
        if isinstance(msg, Forecast):
            return self.files[msg.file_id][msg.name].forecast_request(msg.request)
        if isinstance(msg, Load):
            from ..r.model import read_model_file

            models = read_model_file(msg.path, self.session, probe=msg.probe)
            self.files[msg.file_id] = models
            return {"models": {name: m.front_view() for name, m in models.items()},
                    "skipped": models.skipped}
        if isinstance(msg, Unload):
            self.files.pop(msg.file_id, None)
            return None
        if isinstance(msg, PlumberCall):
            return self.plumber.call(msg.method, msg.path, msg.query, msg.headers, msg.body, msg.server)
        if isinstance(msg, PlumberInfo):
            self.plumber.check_bridge_routes(msg.templates)
            return [(str(f), v, r) for f, v, r in self.plumber.routes]
        raise TypeError(f"unknown message {type(msg).__name__}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    fd, config = int(argv[0]), json.loads(argv[1])
    logging.basicConfig(level=config.get("log_level", "INFO").upper(),
                        format=f"%(asctime)s %(levelname)s r-worker[{os.getpid()}] %(name)s: %(message)s")
    logging.getLogger("rpy2").setLevel(logging.WARNING)  # its start-up chatter, once per worker
    _die_with_the_front()
    conn = Connection(fd)
    # R code that writes relative paths writes here, not where the server runs.
    os.chdir(tempfile.mkdtemp(prefix="r-bridge-worker-"))
    try:
        from ..r.session import RSession

        session = RSession(max_response_bytes=config["max_response_bytes"],
                           default_timeout=config["predict_timeout"])
        plumber = None
        if config.get("plumber_files"):
            from ..r.plumber import PlumberApis

            plumber = PlumberApis(config["plumber_files"], session, bare=config.get("plumber_bare", False))
    except BaseException as exc:  # told to the front, which refuses to start
        send(conn, Reply(error=error_to_wire(exc)))
        return 1
    send(conn, Ready(os.getpid(), session.r_version))
    worker = Worker(session, plumber)
    inbox = Inbox(conn, config.get("spin", 0.0))
    while True:
        try:
            msg = inbox.next()
        except (EOFError, OSError):
            return 0  # the front is gone
        try:
            reply = Reply(worker.handle(msg))
        except Exception as exc:
            if not hasattr(exc, "status"):
                log.exception("unexpected error handling %s", type(msg).__name__)
            reply = Reply(error=error_to_wire(exc))
        send(conn, reply)


class Inbox:
    """The front's next message. After an answer it polls the pipe for up to
    `spin` seconds before it sleeps on it, as long as the last wait was that
    short: a worker answering a steady stream never goes to sleep between
    calls; one whose calls come further apart stops polling after one miss
    (at most `spin` of CPU spent per change of pace) and starts again once a
    call comes within `spin` of the last answer.

    NOTE: on this 2-core VM, spin 1 ms, old and new side by side: one
    keep-alive client, p50 1.16 -> 0.90 ms (wrk -c1) on a quiet machine,
    1.30 -> 1.24 ms with a test suite running beside (a spinning worker then
    competes for the cores); 4 connections +18 % req/s; 32 connections
    unchanged (the worker never waits there). Waking a sleeping process
    costs the call its scheduler wake-up, and R's predict() runs on a core
    gone cold."""

    def __init__(self, conn, spin):
        self.conn = conn
        self.spin = spin
        self.polling = spin > 0
        self._poller = select.poll()
        self._poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)

    def next(self):
        if self.polling:
            end = time.perf_counter() + self.spin
            while not self._poller.poll(0):
                if time.perf_counter() >= end:
                    break  # a miss: sleep on the pipe
            else:
                return receive(self.conn)
        started = time.perf_counter()
        msg = receive(self.conn)
        # Polls next time only if this wait (after the miss, if any) was short.
        self.polling = self.spin > 0 and time.perf_counter() - started < self.spin
        return msg


def _die_with_the_front():
    """Linux: this process gets SIGKILL when the front that started it dies,
    even a SIGKILL'd front (the pipe's EOF is only seen between calls)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the front died before we got here
            os._exit(0)
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())

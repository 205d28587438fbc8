"""The access log: one JSON line per request on stdout.

Fields: time (UTC), request_id, method, path, model, rows, status,
duration_ms. The request id is the caller's `X-Request-ID` when it is a
sane token, else a new uuid4; it is echoed back in the response header so
a caller can quote it. Bodies and query strings are never logged: they
carry the caller's data.

The lines go to the `bridge.access` logger at INFO, written bare (no
prefix) to stdout; BRIDGE_LOG_LEVEL=WARNING turns them off.
"""

import atexit
import collections
import datetime as dt
import logging
import re
import sys
import threading
import time
import uuid

import orjson

from .request_metrics import model_in_path

access_log = logging.getLogger("bridge.access")

REQUEST_ID_HEADER = "X-Request-ID"
# What we accept as a caller's request id: a token, not free text.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_MAX_PATH = 512


def configure_access_log(stream=None):
    """Bare JSON lines on stdout, once per process, kept out of the root
    logger's human-readable format."""
    if access_log.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.propagate = False


class LineWriter:
    """The access log off the request's path: a request thread only queues
    its line; one thread hands them, a batch at a time, to the
    `bridge.access` logger. Logging on each request thread made 32 threads
    queue on the handler's lock (about a fifth of their time under load,
    py-spy), each one holding its response back meanwhile."""

    def __init__(self):
        self._lines = collections.deque()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="access-log", daemon=True).start()
        atexit.register(self.drain)

    def put(self, line):
        self._lines.append(line)
        self._wake.set()

    def _run(self):
        while True:
            self._wake.wait()
            self._wake.clear()
            self.drain()

    def drain(self):
        """Writes every queued line now (tests and exit call it too)."""
        lines = []
        while self._lines:
            lines.append(self._lines.popleft())
        if lines:
            access_log.info("\n".join(lines))


_writer = None
_writer_lock = threading.Lock()


def line_writer():
    """The process's one LineWriter, started on first use."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = LineWriter()
        return _writer


def printable(text):
    """Text safe for one log line: control characters (a newline in a file
    name) are escaped, never written raw."""
    text = str(text)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def request_id(req):
    given = req.get_header(REQUEST_ID_HEADER)
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestLog:
    """Falcon middleware: sets req.context.request_id, logs the request."""

    def __init__(self):
        configure_access_log()
        self._writer = line_writer()

    def process_request(self, req, resp):
        req.context.request_id = request_id(req)
        req.context.log_started = time.perf_counter()

    def process_response(self, req, resp, resource, req_succeeded):
        rid = req.context.get("request_id")
        if rid is None:
            return
        resp.set_header(REQUEST_ID_HEADER, rid)
        if not access_log.isEnabledFor(logging.INFO):
            return
        started = req.context.log_started
        line = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "request_id": rid,
            "method": req.method,
            "path": req.path[:_MAX_PATH],
            "model": (_model(req) or "")[:_MAX_PATH] or None,
            "rows": _rows(req),
            "status": resp.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        self._writer.put(orjson.dumps(line).decode())


def _model(req):
    call = req.context.get("call")  # the service's Context (bridge/http/calls.py)
    return (call is not None and call.model) or model_in_path(req.path)


def _rows(req):
    call = req.context.get("call")
    return req.context.get("rows") if call is None else call.rows

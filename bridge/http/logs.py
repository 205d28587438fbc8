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
import logging
import os
import re
import sys
import threading
import time

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
    py-spy), each one holding its response back meanwhile.

    The thread is woken at most once per BATCH_SECONDS: waking it for every
    line cost the front a thread switch per request (Event.set, then the
    writer taking the GIL from the request threads)."""

    BATCH_SECONDS = 0.02

    def __init__(self):
        self._lines = collections.deque()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="access-log", daemon=True).start()
        atexit.register(self.drain)

    def put(self, line):
        self._lines.append(line)
        if not self._wake.is_set():  # is_set() takes no lock; set() does
            self._wake.set()

    def _run(self):
        while True:
            self._wake.wait()
            time.sleep(self.BATCH_SECONDS)  # the lines of the next few ms, in one write
            # Cleared before the drain: a line put after this sets it again.
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


_stamp = (None, "")  # (second, its "YYYY-MM-DDTHH:MM:SS"): one strftime per second


def utc_now_iso():
    """datetime.now(timezone.utc).isoformat(timespec="milliseconds"), at a
    fifth of its cost (the date part is formatted once per second)."""
    global _stamp
    now = time.time()
    second = int(now)
    cached, text = _stamp
    if cached != second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _stamp = (second, text)
    return f"{text}.{int((now - second) * 1000):03d}+00:00"


def request_id(req):
    given = req.get_header(REQUEST_ID_HEADER)
    if given and _REQUEST_ID.fullmatch(given):
        return given
    return new_request_id()


def new_request_id():
    """uuid.uuid4().hex (the same 32 hex digits, version and variant bits
    set) without building a UUID object: a third of the cost."""
    value = int.from_bytes(os.urandom(16), "big")
    return "%032x" % (value & _UUID4_CLEAR | _UUID4_SET)


_UUID4_CLEAR = ~((0xc000 << 48) | (0xf000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


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
            "time": utc_now_iso(),
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

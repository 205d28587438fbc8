"""The front's HTTP server: waitress in this process, hardened for slow
clients and for being stopped.

`serve_front(app, settings, readiness, on_reload)` runs a WSGI app until
SIGTERM or SIGINT and returns the exit status (0). It owns:

- Slow clients. waitress buffers a whole request before a thread sees it,
  so a slow client costs a socket, not a thread; but waitress's
  `channel_timeout` is an inactivity timer that a client trickling a byte
  every few seconds never trips. Here each request has a total read clock
  (`--read-timeout`): from accept for a connection's first request, from the
  first byte for later ones on a kept-alive connection. Past it the request
  is answered 408 and the connection closed. Sockets are watched with poll()
  (select() stops at fd 1024), and up to `--max-connections` are open at once.
- Signals. SIGTERM/SIGINT: take the connections the kernel already queued,
  close the listening socket, turn /readyz 503, answer every request with
  `Connection: close`, and wait for what is in flight. At the end of
  `--grace-period` a request still unanswered gets a 503 rather than a reset.
  A second SIGTERM/SIGINT changes nothing. SIGHUP calls `on_reload()` on its
  own thread and keeps serving.

Threads: the event loop (accept, read, write, the clocks, the drain) runs on
the calling thread, which must be the main thread (signal handlers); the
app runs on waitress's `--threads` threads; `on_reload` on a thread of its own.
"""

import logging
import resource
import signal
import threading
import time

import orjson
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from .poller import Poller

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_serving = threading.local()  # .channel: the connection a request thread serves
# Idle kept-alive connections close after this long. Longer than the 60 s
# idle timeout of common load balancers, so the balancer closes first and
# never reuses a connection we are closing.
IDLE_TIMEOUT = 75
# How long one turn of the event loop may wait for I/O: the resolution of the
# read clock and of the drain's checks, and how late a signal may be seen.
LOOP_TIMEOUT = 0.25
# File descriptors beyond the connections: R worker pipes, model files, logs.
SPARE_FILES = 256


def serve_front(app, settings, readiness, on_reload=None):
    """Serves `app` on settings.host:port until SIGTERM/SIGINT; returns 0 once
    drained. `readiness` (health.Readiness) is turned draining on the signal;
    turning it ready is the caller's (once R can take work). Main thread only."""
    front = Front(app, settings, readiness, on_reload)
    return front.run()


def error_response(status, title, description, headers=()):
    """A complete HTTP/1.1 response that closes the connection, in the
    bridge's error shape, for answers the event loop writes itself."""
    body = orjson.dumps({"title": title, "description": description})
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class _FrontTask:
    """What the front adds to waitress's tasks: a response begun while the
    server drains says `Connection: close`, and a request the drain already
    answered (503 at the end of the grace period) writes nothing more."""

    def write(self, data):
        channel = self.channel
        # The same lock the event loop holds while it answers for a task.
        with channel.outbuf_lock:
            if channel.cut:
                raise ClientDisconnected
            if not self.wrote_header:
                channel.responding = True
                if channel.server.draining.is_set():
                    self.set_close_on_finish()
            super().write(data)


class FrontTask(_FrontTask, WSGITask):
    pass


class FrontErrorTask(_FrontTask, ErrorTask):
    pass


class FrontChannel(HTTPChannel):
    """One client connection, with the read clock of the request it sends."""

    task_class = FrontTask
    error_task_class = FrontErrorTask
    responding = False  # the current request's response has begun
    cut = False         # answered by the event loop; its task writes nothing
    touches = True      # tells the Poller when to ask it readable()/writable() again

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map=map)
        # The first request's clock starts at accept: a client that connects
        # and sends nothing is as slow as one that sends a byte a minute.
        self.read_started = time.monotonic()
        server.poller.touch(self)

    def received(self, data):
        before = self.request
        result = super().received(data)
        if self.request is None:
            # Nothing half-read: idle between requests (IDLE_TIMEOUT), or served.
            self.read_started = None
        elif self.request is not before and (before is not None or self.read_started is None):
            self.read_started = time.monotonic()
        return result

    def service(self):
        # A request thread: the loop wakes for this connection (pull_trigger).
        _serving.channel = self
        self.responding = False
        try:
            super().service()
        finally:
            self.responding = False
            _serving.channel = None
        if self.request is not None:
            # A pipelined request waited, unread, while this one was served.
            self.read_started = time.monotonic()
        # NOTE: a response begun before the drain had no `Connection: close`,
        # yet its connection stays open: closing it now would reset a request
        # the client may be sending already. The next response closes it, or
        # the end of the drain does, once nothing else is in flight.

    def reading_since(self):
        """When the request being read began, or None when none is."""
        if self.requests or self.will_close or self.close_when_flushed:
            return None  # being served, or closing: reading is paused
        return self.read_started

    def needs_answer(self):
        return (bool(self.requests or self.request is not None)
                and not self.responding and not self.cut)

    def busy(self):
        return bool(self.requests or self.request is not None or self.total_outbufs_len
                    or self.close_when_flushed)

    def answer_and_close(self, response):
        """Event loop only: sends `response` in place of the app's, then closes."""
        self.server.poller.touch(self)
        with self.outbuf_lock:
            self.cut = True
            self.outbufs[-1].append(response)
            self.current_outbuf_count += len(response)
            self.total_outbufs_len += len(response)
            self.close_when_flushed = True
        self.flush_answer()

    def flush_answer(self):
        # Not left to handle_write: with a request in flight it waits for
        # send_bytes of output before it flushes, and the app writes no more.
        with self.outbuf_lock:
            self._flush_some()
            done = not self.total_outbufs_len
        if done and self.socket is not None:
            self.handle_close()


class FrontServer(TcpWSGIServer):
    """One listening socket. `draining` is shared by all of them."""

    channel_class = FrontChannel

    def __init__(self, *args, draining, poller, **kwargs):
        self.draining = draining
        self.poller = poller
        super().__init__(*args, **kwargs)

    def pull_trigger(self):
        # On a request thread: the connection it serves may read or write
        # now; told to the Poller before the loop wakes to ask it.
        channel = getattr(_serving, "channel", None)
        if channel is not None:
            self.poller.touch(channel)
        super().pull_trigger()

    def take_backlog(self):
        """Accepts every connection the kernel has queued, so that closing
        the listening socket resets none of them."""
        while True:
            try:
                pair = self.accept()
            except OSError:  # out of file descriptors: the rest cannot be taken
                log.warning("could not accept every queued connection", exc_info=True)
                return
            if pair is None:
                return
            conn, addr = pair
            try:
                self.set_socket_options(conn)
            except OSError:
                conn.close()  # the client has gone already
                continue
            self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def stop_listening(self):
        # Not self.close(): that closes the trigger, which the app threads
        # still pull to wake the loop when their responses are ready.
        wasyncore.dispatcher.close(self)


class Front:
    """The event loop, the clocks, the signals and the drain."""

    def __init__(self, app, settings, readiness, on_reload=None):
        self.settings = settings
        self.readiness = readiness
        self.on_reload = on_reload
        self.map = {}
        self.poller = Poller(self.map)
        self.draining = threading.Event()
        self.signals = []  # appended by signal handlers, consumed by the loop
        self.reload_wanted = threading.Event()
        adj = Adjustments(host=settings.host, port=settings.port, threads=settings.threads,
                          ident="r-bridge", channel_timeout=IDLE_TIMEOUT,
                          # refuses a Content-Length >= this before reading the body
                          max_request_body_size=settings.max_body_bytes + 1,
                          max_request_header_size=settings.max_header_bytes)
        # waitress counts its listening sockets and their wake-up pipes as
        # connections: allow max_connections clients on top of those.
        adj.connection_limit = settings.max_connections + 2 * len(adj.listen)
        # waitress keeps a body it reads (512 KiB) and an answer it writes
        # (1 MiB) in memory up to these sizes, then moves them to a temporary
        # file: a 100,000-row request and its answer (3 MB, 2 MB) went through
        # the disk, 9-17 ms of 45-65 ms (bench/RESULTS.md). BRIDGE_BUFFER_BYTES.
        adj.inbuf_overflow = adj.outbuf_overflow = settings.buffer_bytes
        _raise_file_limit(settings.max_connections + SPARE_FILES)
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(settings.threads)
        self.listeners = [FrontServer(app, self.map, dispatcher=self.dispatcher, adj=adj,
                                      sockinfo=info, draining=self.draining,
                                      poller=self.poller)
                          for info in adj.listen]

    @property
    def addresses(self):
        return [(s.effective_host, int(s.effective_port)) for s in self.listeners]

    def channels(self):
        return [obj for obj in list(self.map.values()) if isinstance(obj, FrontChannel)]

    def run(self):
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (*STOP_SIGNALS, signal.SIGHUP)}
        if self.on_reload is not None:
            threading.Thread(target=self._reloader, name="front-reload", daemon=True).start()
        for host, port in self.addresses:
            log.info("listening on http://%s:%d (%d threads, up to %d connections, "
                     "%.0f s to read a request)", host, port, self.settings.threads,
                     self.settings.max_connections, self.settings.read_timeout)
        try:
            self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._close_all()
        return 0

    def _on_signal(self, signum, frame):
        # Only an append here: the loop does the work between two turns,
        # never in the middle of one. poll() returns to Python for the
        # handler and resumes, so the loop sees it within LOOP_TIMEOUT.
        self.signals.append(signum)

    def _loop(self):
        deadline = None  # the end of the grace period, once draining
        next_expiry = 0.0
        while True:
            # poll(), not select(): select() cannot watch fd 1024 and above.
            self.poller.turn(LOOP_TIMEOUT)
            while self.signals:
                signum = self.signals.pop(0)
                if signum == signal.SIGHUP:
                    self._reload()
                elif deadline is None:
                    deadline = self._start_drain(signum)
                else:
                    log.info("%s: already draining", signal.Signals(signum).name)
            now = time.monotonic()
            if now >= next_expiry:  # once per LOOP_TIMEOUT, not on every event
                self._expire_slow_reads(now)
                next_expiry = now + LOOP_TIMEOUT
                self.poller.everything()  # what the clocks (or a drain) changed
            if deadline is not None:
                if self._drained():
                    log.info("drained; exiting")
                    return
                if now >= deadline:
                    self._cut(deadline)
                    return

    def _start_drain(self, signum):
        grace = self.settings.grace_period
        log.info("%s: draining for up to %.0f s", signal.Signals(signum).name, grace)
        # Stop accepting before /readyz says so: a client told 503 by the
        # probe finds the port closed, not half open.
        for listener in self.listeners:
            listener.take_backlog()
            listener.stop_listening()
        self.draining.set()
        self.readiness.set_draining()
        # Kept-alive connections with nothing in flight stay open until the
        # end: a request already on its way is answered, with Connection: close.
        # Keep a slice of the grace period to deliver the last answers in.
        return time.monotonic() + grace - min(1.0, grace / 10)

    def _drained(self):
        if any(ch.busy() for ch in self.channels()):
            return False
        # Bytes that reached the kernel before now are a request too: one
        # more turn without waiting reads them before idle connections close.
        wasyncore.poll2(0, self.map)
        return not any(ch.busy() for ch in self.channels())

    def _cut(self, deadline):
        """The grace period is over: whatever has no answer yet gets a 503,
        answers already begun get the rest of the slice to go out."""
        unanswered = [ch for ch in self.channels() if ch.needs_answer()]
        response = error_response(
            "503 Service Unavailable", "Shutting down",
            f"the server stopped before this request finished "
            f"(grace period {self.settings.grace_period:g} s); it may be retried",
            headers=("Retry-After: 1",))
        for channel in unanswered:
            with channel.outbuf_lock:
                if not channel.responding:
                    channel.answer_and_close(response)
        log.warning("grace period over: %d request(s) answered 503", len(unanswered))
        end = deadline + min(1.0, self.settings.grace_period / 10)
        while time.monotonic() < end and any(ch.total_outbufs_len for ch in self.channels()):
            for channel in self.channels():
                if channel.cut and channel.total_outbufs_len:
                    channel.flush_answer()
            wasyncore.poll2(LOOP_TIMEOUT / 5, self.map)

    def _expire_slow_reads(self, now):
        limit = self.settings.read_timeout
        slow = 0
        for channel in self.channels():
            since = channel.reading_since()
            if since is None or now - since < limit:
                continue
            slow += 1
            if channel.request is None:
                channel.will_close = True  # connected, never sent a byte: just close
            else:
                channel.answer_and_close(error_response(
                    "408 Request Timeout", "Request timeout",
                    f"the request's head and body did not arrive within {limit:g} s"))
        if slow:
            # One line per pass, not per connection: an attack must not flood the log.
            log.info("closed %d connection(s) that sent no complete request within %g s",
                     slow, limit)

    def _reload(self):
        if self.on_reload is None or self.draining.is_set():
            log.info("SIGHUP: nothing to reload" if self.on_reload is None
                     else "SIGHUP: draining, not reloading")
            return
        log.info("SIGHUP: reloading")
        self.reload_wanted.set()

    def _reloader(self):
        # Several SIGHUPs during one reload make one more reload, not many.
        while True:
            self.reload_wanted.wait()
            self.reload_wanted.clear()
            try:
                self.on_reload()
            except Exception:
                log.exception("reload failed; serving on with what was loaded")

    def _close_all(self):
        for obj in list(self.map.values()):
            if isinstance(obj, FrontChannel):
                obj.handle_close()
            else:
                obj.close()
        # Threads still inside the app (cut at the end of the grace period)
        # are daemons: they do not hold the process.
        self.dispatcher.shutdown(cancel_pending=True, timeout=0.2)


def _raise_file_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    if new < wanted:
        log.warning("open file limit is %d: fewer than %d connections can be open", new,
                    wanted - SPARE_FILES)

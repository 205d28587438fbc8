"""The front's HTTP server (bridge/http/front.py) on a real socket: slow
clients, a thousand connections, and what SIGTERM, SIGINT and SIGHUP do.

The app is tests/front_apps.py (no R): a server process as the bridge runs
it, attacked and signalled from here. Every wait is bounded.
"""

import http.client
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import orjson
import pytest
import requests

from conftest import CLEAN_ENV, ROOT, free_port

TRICKLERS = 250


class FrontProcess:
    """`python -m tests.front_apps` with BRIDGE_* settings."""

    def __init__(self, log_dir, **settings):
        self.port = free_port()
        self.address = ("127.0.0.1", self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**CLEAN_ENV, "BRIDGE_HOST": "127.0.0.1", "BRIDGE_PORT": str(self.port),
               **{f"BRIDGE_{k.upper()}": str(v) for k, v in settings.items()}}
        self.log = open(log_dir / f"front-{self.port}.log", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.front_apps"], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_up(self):
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                requests.get(self.url + "/fast", timeout=1)
                return
            except requests.RequestException:
                assert time.monotonic() < deadline, f"not up after 30 s: {self.output()}"
                time.sleep(0.1)

    def signal(self, signum):
        self.proc.send_signal(signum)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def front(tmp_path):
    started = []

    def start(**settings):
        started.append(FrontProcess(tmp_path, **settings))
        started[-1].wait_up()
        return started[-1]

    yield start
    for process in started:
        process.stop()


def connect(server, timeout=15):
    return socket.create_connection(server.address, timeout=timeout)


def get(sock, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())


def read_response(sock):
    """(status, headers, body) of the next response on a raw socket."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, response.headers, response.read()


def ask(sock, path):
    get(sock, path)
    return read_response(sock)


def closed_by_server(sock):
    """True once the server has closed this connection (bounded by the
    socket's timeout)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"after {timeout} s: {what}"
        time.sleep(0.05)


# -- bodies and answers larger than what is kept in memory -----------------------

@pytest.mark.parametrize("buffer_bytes", [65536, None], ids=["spilled to a file", "default"])
def test_large_bodies_and_answers_arrive_whole(front, buffer_bytes):
    """A body and an answer past BRIDGE_BUFFER_BYTES go through waitress's
    temporary file, below it through memory: both arrive byte for byte."""
    server = front(**({} if buffer_bytes is None else {"buffer_bytes": buffer_bytes}))
    body = bytes(range(256)) * (3 * 2**20 // 256) + b"end"
    with requests.Session() as session:  # kept alive: the buffers are reused
        for _ in range(3):
            r = session.post(server.url + "/echo", data=body, timeout=30)
            assert r.json() == {"bytes": len(body)}
            r = session.post(server.url + "/echo?back=true", data=body, timeout=30)
            assert r.status_code == 200 and r.content == body


# -- slow clients ----------------------------------------------------------

class Trickler:
    """A connection that sends the opening of a request, then one byte at a
    time and never finishes."""

    def __init__(self, server, opening):
        self.connected_at = time.monotonic()
        self.sock = connect(server)
        self.sock.sendall(opening)
        self.sock.setblocking(False)
        self.reply = b""
        self.closed_at = None

    def tick(self, readable):
        if readable:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                data = None
            except ConnectionResetError:
                data = b""
            if data == b"":
                self.closed_at = time.monotonic()
                return
            self.reply += data or b""
        try:
            self.sock.send(b"a")
        except BlockingIOError:
            pass
        except (BrokenPipeError, ConnectionResetError):
            self.closed_at = time.monotonic()


def trickle(tricklers, stop):
    while not stop.is_set():
        alive = {t.sock.fileno(): t for t in tricklers if t.closed_at is None}
        if not alive:
            return
        poller = select.poll()
        for fd in alive:
            poller.register(fd, select.POLLIN)
        readable = {fd for fd, _ in poller.poll(0)}
        for fd, trickler in alive.items():
            trickler.tick(fd in readable)
        stop.wait(0.2)


OPENINGS = {
    "head": b"GET /fast HTTP/1.1\r\nHost: test\r\nX-Slow: ",
    "body": b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 1000000\r\n\r\n",
}


@pytest.mark.parametrize("part", sorted(OPENINGS))
def test_trickling_clients_are_cut_off_and_others_are_served_meanwhile(front, part):
    read_timeout = 5
    server = front(read_timeout=read_timeout)
    tricklers, stop = [], threading.Event()
    thread = threading.Thread(target=trickle, args=(tricklers, stop), daemon=True)
    try:
        tricklers.extend(Trickler(server, OPENINGS[part]) for _ in range(TRICKLERS))
        thread.start()
        # No trickler can be cut before this: its clock started after it connected.
        all_open_until = tricklers[0].connected_at + read_timeout
        answered = []
        deadline = time.monotonic() + read_timeout + 30
        while any(t.closed_at is None for t in tricklers):
            assert time.monotonic() < deadline, \
                f"{sum(t.closed_at is None for t in tricklers)} trickling connections still open"
            fast = requests.get(server.url + "/fast", timeout=10)
            assert fast.status_code == 200, fast.text
            echo = requests.post(server.url + "/echo", data=b"x" * 5000, timeout=10)
            assert echo.status_code == 200 and echo.json() == {"bytes": 5000}, echo.text
            answered.append(time.monotonic())
    finally:
        stop.set()
        thread.join(timeout=10)
        for t in tricklers:
            t.sock.close()
    assert answered[0] < all_open_until, "no request was answered while the attack was on"
    for t in tricklers:
        assert t.closed_at - t.connected_at >= read_timeout
        assert t.reply.startswith(b"HTTP/1.1 408 "), t.reply
    assert requests.get(server.url + "/fast", timeout=10).status_code == 200


def test_the_read_clock_is_per_request_not_per_connection(front):
    read_timeout = 3
    server = front(read_timeout=read_timeout)
    with connect(server) as sock:
        # A body sent slowly, but within the limit, is read and answered.
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\n")
        for _ in range(4):
            time.sleep(0.2)
            sock.sendall(b"a")
        status, _, body = read_response(sock)
        assert status == 200 and orjson.loads(body) == {"bytes": 4}, body
        # Idle between requests for longer than the limit: idle, not reading.
        time.sleep(read_timeout + 1)
        # Requests on one connection that add up to more than the limit.
        started = time.monotonic()
        while time.monotonic() - started < read_timeout + 1:
            status, headers, body = ask(sock, "/fast")
            assert status == 200 and headers.get("Connection") != "close", body
            time.sleep(0.3)


@pytest.mark.parametrize("connections, settings", [
    (1000, {}),  # the default limit
    # past file descriptor 1024, where select() stops working
    (1100, {"max_connections": 1100}),
], ids=["default", "past-fd-1024"])
def test_a_thousand_connections_are_served_at_once(front, connections, settings):
    server = front(**settings)
    socks = []
    try:
        for _ in range(connections):
            socks.append(connect(server, timeout=30))
            get(socks[-1], "/fast")
        for sock in socks:
            status, headers, body = read_response(sock)
            assert status == 200 and headers.get("Connection") != "close", body
    finally:
        for sock in socks:
            sock.close()


def _next_response(reader):
    """(status, body) of the next response read from a buffered reader."""
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, reader.read(length)


def test_pipelined_requests_reused_sockets_and_idle_neighbours_are_all_answered(front):
    """The event loop asks a connection whether it reads or writes only when
    that may have changed (bridge/http/poller.py): requests pipelined on one
    connection (each finished on a request thread, the next read after it),
    a slow answer's neighbours, and connections closed and opened over and
    over (their file descriptors reused) are each answered, in order."""
    server = front()
    idle = [connect(server) for _ in range(40)]
    for sock in idle:
        assert ask(sock, "/fast")[0] == 200
    slow = connect(server, timeout=30)
    get(slow, "/slow?seconds=1&id=s")
    with connect(server) as sock:
        bodies = [f"request {i}".encode() * (1 + i * 50) for i in range(12)]
        sock.sendall(b"".join(
            b"POST /echo?back=true HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body) for body in bodies))
        reader = sock.makefile("rb")  # one reader: each response's bytes, then the next one's
        for body in bodies:
            assert _next_response(reader) == (200, body)
    for round in range(150):
        with connect(server) as sock:
            status, headers, body = ask(sock, "/fast")
            assert status == 200 and orjson.loads(body) == {"ok": True}, round
    status, _, body = read_response(slow)
    assert status == 200 and orjson.loads(body)["id"] == "s"
    slow.close()
    for sock in idle:  # still open, still served
        assert ask(sock, "/fast")[0] == 200
        sock.close()


# -- signals ---------------------------------------------------------------

def wait_running(server, count):
    def running():
        return requests.get(server.url + "/inflight", timeout=5).json()["running"] == count

    wait_for(running, 20, f"{count} requests running")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_answers_every_request_then_exits_0(front, signum):
    grace = 20
    server = front(grace_period=grace)
    kept = [connect(server) for _ in range(20)]
    for sock in kept:
        status, headers, _ = ask(sock, "/fast")
        assert status == 200 and headers.get("Connection") != "close"
    control = connect(server)
    assert ask(control, "/readyz")[0] == 200
    running = [connect(server) for _ in range(30)]
    for i, sock in enumerate(running):
        get(sock, f"/slow?seconds=4&id=running-{i}")
    wait_running(server, len(running))
    # Sent just before the signal: perhaps not even accepted yet.
    late = [connect(server) for _ in range(10)]
    for i, sock in enumerate(late):
        get(sock, f"/slow?seconds=1&id=late-{i}")
    server.signal(signum)

    # /readyz turns 503, and a kept-alive connection is told to close.
    while True:
        status, headers, _ = ask(control, "/readyz")
        if status == 503:
            break
        assert status == 200
    assert headers["Connection"] == "close" and closed_by_server(control)
    server.signal(signum)  # a second signal changes nothing
    with pytest.raises(ConnectionRefusedError):
        connect(server)

    for sock in kept:
        status, headers, body = ask(sock, "/fast")
        assert status == 200 and headers["Connection"] == "close", body
        assert closed_by_server(sock)
    for name, socks in (("running", running), ("late", late)):
        for i, sock in enumerate(socks):
            status, headers, body = read_response(sock)
            assert status == 200, body
            assert orjson.loads(body)["id"] == f"{name}-{i}"
            assert headers["Connection"] == "close" and closed_by_server(sock)
    assert server.proc.wait(timeout=grace) == 0, server.output()


def test_requests_running_past_the_grace_period_are_answered_503(front):
    grace = 3
    server = front(grace_period=grace)
    socks = [connect(server, timeout=grace + 10) for _ in range(5)]
    for i, sock in enumerate(socks):
        get(sock, f"/slow?seconds=60&id={i}")
    wait_running(server, len(socks))
    server.signal(signal.SIGTERM)
    for sock in socks:
        status, headers, body = read_response(sock)
        assert status == 503, body
        assert orjson.loads(body)["title"] == "Shutting down" and headers["Retry-After"]
        assert closed_by_server(sock)
    assert server.proc.wait(timeout=10) == 0, server.output()


def test_sighup_reloads_and_keeps_serving(front):
    server = front()
    kept = connect(server)
    for n in (1, 2):
        server.signal(signal.SIGHUP)
        wait_for(lambda: requests.get(server.url + "/reloads", timeout=5).json()["finished"] == n,
                 20, f"{n} reload(s)")
        assert requests.get(server.url + "/readyz", timeout=5).status_code == 200
        status, headers, _ = ask(kept, "/fast")
        assert status == 200 and headers.get("Connection") != "close"
    assert server.proc.poll() is None
    kept.close()

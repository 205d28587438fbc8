"""The load generators: a sequential Python client, wrk for concurrency, and
one large request. Every loop is bounded by a request count and a deadline."""

import dataclasses
import http.client
import math
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from .servers import HOST

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_post.lua"
JSON = {"Content-Type": "application/json"}


class LoadError(RuntimeError):
    pass


@dataclasses.dataclass
class Sequential:
    requests: int
    seconds: float

    @property
    def rps(self):
        return self.requests / self.seconds


def sequential(port, path, body, *, keep_alive, max_requests, max_seconds, warmup=20):
    """One client, one request at a time: on one keep-alive connection, or a
    new connection with `Connection: close` per request."""
    headers = dict(JSON) if keep_alive else {**JSON, "Connection": "close"}
    conn = None

    def one():
        nonlocal conn
        if conn is None:
            conn = http.client.HTTPConnection(HOST, port, timeout=30)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise LoadError(f"POST {path}: {response.status} {data[:300]!r}")
        if not keep_alive or response.will_close:
            conn.close()
            conn = None

    try:
        for _ in range(warmup):
            one()
        done, start = 0, time.perf_counter()
        deadline = start + max_seconds
        while done < max_requests and time.perf_counter() < deadline:
            one()
            done += 1
        return Sequential(done, time.perf_counter() - start)
    finally:
        if conn is not None:
            conn.close()


@dataclasses.dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    latency_ms: dict  # {"50": ms, "75": .., "90": .., "99": ..}
    non_2xx: int
    socket_errors: dict
    command: str
    worker_cpu: dict = None  # {pid: CPU seconds during the run}, filled in by the caller

    @property
    def errors(self):
        return self.non_2xx + sum(self.socket_errors.values())


def wrk(url, body, *, threads=2, connections=32, duration=10, close=False, limit=None,
        timeout_s="5s", abort=None):
    """wrk with --latency. With limit, it is stopped once `limit` responses
    (split across threads) are in; duration stays the upper bound. abort():
    polled while it runs, True stops it early (the server died)."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        body_file, done_file = Path(tmp) / "body.json", Path(tmp) / "done"
        body_file.write_bytes(body)
        env = {**os.environ, "BENCH_BODY_FILE": str(body_file)}
        if limit is not None:
            env.update(BENCH_LIMIT=str(math.ceil(limit / threads)),
                       BENCH_DONE_FILE=str(done_file))
        argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                f"--timeout={timeout_s}", "-s", str(WRK_SCRIPT)]
        if close:
            argv += ["-H", "Connection: close"]
        argv.append(url)
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            _watch(proc, done_file if limit is not None else None, threads,
                   time.monotonic() + duration + 5, abort or (lambda: False))
            out, err = proc.communicate(timeout=duration + 60)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if proc.returncode != 0:
        raise LoadError(f"{' '.join(argv)} failed: {err or out}")
    return parse_wrk(out, " ".join(argv))


def _watch(proc, done_file, threads, deadline, abort):
    """Until wrk ends by itself, SIGINT it (it stops and prints its report as
    usual) once every thread reached its limit or abort() says so."""
    while proc.poll() is None and time.monotonic() < deadline:
        finished = done_file is not None and done_file.exists() \
            and len(done_file.read_text().splitlines()) >= threads
        if finished or abort():
            proc.send_signal(signal.SIGINT)
            return
        time.sleep(0.05)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()
    return float(value) * _UNITS[unit]


def parse_wrk(out, command=""):
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not total or not rps:
        raise LoadError(f"cannot read wrk's output:\n{out}")
    latency = {pct: _ms(val) for pct, val in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.M)}
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"),
                             map(int, errors.groups()))) if errors else {}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(requests=int(total.group(1)),
                     seconds=_ms(total.group(2) + total.group(3)) / 1e3,
                     rps=float(rps.group(1)), latency_ms=latency,
                     non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
                     socket_errors=socket_errors, command=command)


@dataclasses.dataclass
class Bulk:
    runs: list  # seconds per request
    nrows: int

    @property
    def median(self):
        return statistics.median(self.runs)


def bulk(port, path, body, nrows, *, runs=3, check=None):
    """The same large request `runs` times on a new connection each; the time
    covers sending the body and reading the whole response."""
    import orjson

    times = []
    for _ in range(runs):
        conn = http.client.HTTPConnection(HOST, port, timeout=600)
        try:
            start = time.perf_counter()
            conn.request("POST", path, body=body, headers=JSON)
            response = conn.getresponse()
            data = response.read()
            times.append(time.perf_counter() - start)
        finally:
            conn.close()
        if response.status != 200:
            raise LoadError(f"POST {path} ({nrows} rows): {response.status} {data[:300]!r}")
        predictions = orjson.loads(data)["predictions"]
        if len(predictions) != nrows:
            raise LoadError(f"POST {path}: {len(predictions)} predictions for {nrows} rows")
        if check is not None:
            check(predictions)
    return Bulk(times, nrows)

"""The two servers under test, each started in its own process group on a
free loopback port and stopped (the whole group) however the run ends."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PLUMBER_APP = ROOT / "bench" / "plumber_bench.R"


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ServerExited(RuntimeError):
    pass


class Server:
    """One server process (and whatever it forks) in a new session."""

    def __init__(self, name, argv, predict_path, log_path, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.port = free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.predict_path = predict_path
        self.log_path = Path(log_path)
        self.env = {**os.environ, **(env or {})}
        self.proc = None

    @property
    def url(self):
        return f"http://{HOST}:{self.port}{self.predict_path}"

    def start(self, probe_body, timeout=120):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         start_new_session=True)
        try:
            self._wait_ready(probe_body, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, body, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerExited(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                status, _ = post(self.port, self.predict_path, body, timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} not answering after {timeout}s:\n{self.output()[-3000:]}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def death(self):
        """Why the process ended, from its log: a fatal error line, or the tail."""
        text = self.output()
        for line in text.splitlines():
            if line.startswith(("Fatal Python error", "Segmentation fault", "Error in ")):
                return line.strip()
        code = self.proc.returncode if self.proc is not None else None
        return f"exit status {code}; log ends: {text[-300:].strip()!r}"

    def output(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, grace=15):
        """SIGTERM to the process group, SIGKILL to whatever is left after grace."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # the session leader's pid is its group's id
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(pgid):
            self.proc.poll()  # reap the leader so it does not count as alive
            time.sleep(0.1)
        _signal_group(pgid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_ready(port, models=None, timeout=600):
    """Until the bridge's /readyz is 200 with the first scan complete,
    nothing loading and every R worker ready (a worker that is still
    catching up with the folder burns CPU a measurement would count), and
    `models` models served when given."""
    import orjson

    deadline = time.monotonic() + timeout
    body = b""
    while time.monotonic() < deadline:
        status, body = get(port, "/readyz")
        ready = orjson.loads(body) if status == 200 else {}
        workers = ready.get("r_workers", {})
        if (ready.get("scan") == "complete" and ready.get("loading") == 0
                and workers.get("ready") == workers.get("total")
                and (models is None or ready.get("models") == models)):
            return ready
        time.sleep(0.5)
    raise RuntimeError(f"the bridge is not ready after {timeout} s: {body[:300]!r}")


def get(port, path, timeout=10):
    """One GET on a new connection -> (status, body bytes); (None, error) if it fails."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError as exc:
        return None, str(exc).encode()
    finally:
        conn.close()


def post(port, path, body, timeout=60, close=True):
    """One POST on a new connection -> (status, body bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if close:
            headers["Connection"] = "close"
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def plumber(model, log_dir, tag="plumber"):
    """Plumber as its users run it: plumb() the file, pr_run() it."""
    code = ('plumber::pr_run(plumber::plumb(Sys.getenv("BENCH_APP")), host = "127.0.0.1", '
            'port = as.integer(Sys.getenv("BENCH_PORT")), docs = FALSE, quiet = TRUE)')
    server = Server(tag, ["Rscript", "-e", code], "/predict", Path(log_dir) / f"{tag}.log")
    server.env.update(BENCH_APP=str(PLUMBER_APP), BENCH_MODEL=str(Path(model).resolve()),
                      BENCH_PORT=str(server.port))
    return server


def bridge(models, log_dir, workers=None, model_name="mtcars_lm", threads=None):
    """`python -m bridge serve` with --workers N and --threads T when given."""
    argv = [sys.executable, "-m", "bridge", "serve", "--models", str(Path(models).resolve()),
            "--port", "{port}"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return Server("bridge", argv, f"/models/{model_name}/predict", Path(log_dir) / "bridge.log")


def start_bridge(models, log_dir, workers, probe_body):
    """The bridge with --workers; without it (and a note saying so) if this
    branch's CLI does not accept the flag yet. -> (server, note or None)."""
    server = bridge(models, log_dir, workers)
    try:
        return _caught_up(server.start(probe_body)), None
    except ServerExited:
        if "unrecognized arguments: --workers" not in server.output():
            raise
    server = bridge(models, log_dir, None)
    note = (f"this branch's `python -m bridge serve` does not accept --workers yet: "
            f"the bridge ran as ONE process (asked for {workers} workers)")
    return _caught_up(server.start(probe_body)), note


def _caught_up(server):
    """The first answer comes as soon as one worker has the model; the others
    may still be loading the folder. Measured before they finish, their
    loading counts as the bridge's (case 4 read it as +48-147 % memory
    "growth"). A branch without /readyz is taken as it is."""
    status, _ = get(server.port, "/readyz")
    if status != 404:
        wait_ready(server.port)
    return server

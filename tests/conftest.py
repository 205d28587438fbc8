"""Shared fixtures. Everything here runs the real embedded R on real model files."""

import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from falcon import testing

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "r_models"
# The environment as it was before R started in this process: embedded R sets
# LD_LIBRARY_PATH, which would make a child Python load the system libpython.
CLEAN_ENV = dict(os.environ)


@pytest.fixture(scope="session")
def fixture_models(tmp_path_factory):
    """One model per supported class, trained by r_scripts/train_fixtures.R,
    each with a <name>.case.json of rows and R's own predictions."""
    out = tmp_path_factory.mktemp("fixture_models")
    subprocess.run(["Rscript", str(ROOT / "r_scripts" / "train_fixtures.R"), str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def session():
    """R embedded in the test process itself (conversion tests, the Python API)."""
    from bridge.r.session import default_session

    return default_session()


@pytest.fixture(scope="session")
def pool():
    """One real R worker process, supervised by this (test) process."""
    from bridge.settings import Settings
    from bridge.workers.pool import Pool

    started = Pool(Settings(workers=1)).start()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def registry(pool, fixture_models):
    from bridge.registry import Registry

    reg = Registry(fixture_models, pool)
    reg.scan()
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def client(registry):
    from bridge.http.app import create_app

    return testing.TestClient(create_app(registry))


def close(got, want):
    """A bridge answer equals R's: numbers at 1e-9, the rest exactly, NA as None."""
    if isinstance(want, dict):
        return isinstance(got, dict) and set(got) == set(want) and all(close(got[k], v) for k, v in want.items())
    if want is None or got is None:
        return got is want
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return isinstance(got, (int, float)) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return got == want


def rscript(code, cwd=None):
    """Runs R code in a separate Rscript process (to build models for a test)."""
    done = subprocess.run(["Rscript", "-e", code], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`python -m bridge serve` in a subprocess, as a user starts it."""

    def __init__(self, models, *args, env=None, cwd=None, wait="scan", ready_timeout=90):
        # NOTE: free_port() closes its socket before the server binds, so another
        # process on the machine can take the port in between (seen once in a full
        # run beside benchmarks: "Address already in use"); then start again on
        # another port rather than fail the test on the machine's traffic.
        for attempt in range(3):
            self._start(models, args, env, cwd)
            try:
                self.wait_ready(ready_timeout, scanned=wait == "scan")
                return
            except BaseException as exc:
                # Never leave a server (or its R workers) behind.
                self.stop()
                if attempt == 2 or "Address already in use" not in str(exc):
                    raise

    def _start(self, models, args, env, cwd):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(models) / f".server-{self.port}.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "--models", str(models),
             "--port", str(self.port), *args],
            cwd=cwd or ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            # started elsewhere than the checkout, Python still finds `bridge` here
            env={**CLEAN_ENV, "PYTHONPATH": str(ROOT), **(env or {})})

    def wait_ready(self, timeout=90, scanned=True):
        """Until the port answers and, with `scanned`, the first scan of the
        model folder is done (the port opens before the models load)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                r = requests.get(self.url + "/readyz", timeout=1)
                # Ours, not another process that took the port first (this one
                # then exits with "Address already in use", and is started again).
                if (not scanned or r.json().get("scan") == "complete") and self._listening():
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not up after {timeout}s: {self.output()}")

    def _listening(self):
        return f":{self.port} (" in self.output() and self.proc.poll() is None

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture
def start_server():
    servers = []

    def start(models, *args, env=None, cwd=None, wait="scan"):
        server = Server(models, *args, env=env, cwd=cwd, wait=wait)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def examples_server(tmp_path_factory):
    """One real server over a copy of r_models/ (it writes its log into the
    folder), shared by the tests that only read from it."""
    models = tmp_path_factory.mktemp("examples")
    for path in EXAMPLES.glob("*.rd*"):
        copy_model(path, models)
    server = Server(models, "--reload-interval", "0")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fixtures_server(fixture_models):
    """One real server over the per-class fixture models, shared likewise."""
    # Every fixture class loads before it answers; rstanarm's and prophet's
    # namespaces (rstan) take a while on a busy machine.
    server = Server(fixture_models, "--reload-interval", "0", ready_timeout=300)
    yield server
    server.stop()


@pytest.fixture
def model_dir(tmp_path):
    """An empty model folder for a test to fill."""
    folder = tmp_path / "models"
    folder.mkdir()
    return folder


def copy_model(src, folder, name=None):
    dest = Path(folder) / (name or Path(src).name)
    shutil.copy(src, dest)
    return dest


def rss_kb(pid):
    """Resident memory of a process, in KiB (Linux)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")

"""The floor under each stage, each measured in its own process:

- hello world: waitress + falcon answering a fixed JSON body to the same POST
  (`python -m bench.budget.floors hello PORT`), timed by the same client;
- the pipe: one small message there and back between two processes, with the
  bridge's own framing (bridge/workers/messages.py send/receive);
- an empty rpy2 call: an R closure that returns NULL, called from Python;
- R's predict() alone: bench/r_floor.R (a loop in Rscript).
"""

import statistics
import subprocess
import sys
import time
from multiprocessing import Pipe


def hello_app():
    import falcon

    class Hello:
        def on_post(self, req, resp):
            req.bounded_stream.read()
            resp.data = b'{"model":"hello","predictions":[1.0]}'

    app = falcon.App()
    app.add_route("/hello", Hello())
    return app


def serve_hello(port, threads):
    import waitress

    waitress.serve(hello_app(), host="127.0.0.1", port=int(port), threads=int(threads),
                   _quiet=True)


def echo(fd):
    from multiprocessing.connection import Connection

    from bridge.workers.messages import receive, send

    conn = Connection(int(fd))
    while True:
        try:
            send(conn, receive(conn))
        except EOFError:
            return


def pipe_round_trip(calls=2000):
    """p50 ms of send + receive of a small message to an echoing process."""
    from bridge.workers.messages import receive, send

    ours, theirs = Pipe()
    proc = subprocess.Popen([sys.executable, "-m", "bench.budget.floors", "echo",
                             str(theirs.fileno())], pass_fds=(theirs.fileno(),))
    theirs.close()
    try:
        message = ("predict", "mtcars_lm", [([1.0, 2.0, 3.0], 1, {}, ())])
        times = []
        for _ in range(calls + 200):
            t0 = time.perf_counter()
            send(ours, message)
            receive(ours)
            times.append(time.perf_counter() - t0)
        return statistics.median(times[200:]) * 1000
    finally:
        ours.close()
        proc.wait(timeout=10)


def empty_rpy2_call(calls=5000):
    """p50 ms of calling `function() NULL` in R through rpy2 (own process)."""
    out = subprocess.run([sys.executable, "-m", "bench.budget.floors", "rpy2", str(calls)],
                         capture_output=True, text=True, timeout=300, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _rpy2(calls):
    import rpy2.rinterface as ri

    ri.initr_simple()
    fn = ri.baseenv["eval"](ri.parse("function() NULL"))
    times = []
    for _ in range(int(calls) + 200):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    print(statistics.median(times[200:]) * 1000)


if __name__ == "__main__":
    what, *rest = sys.argv[1:]
    {"hello": serve_hello, "echo": echo, "rpy2": _rpy2}[what](*rest)

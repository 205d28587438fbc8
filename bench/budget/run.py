"""A latency budget: one bridge with the stage timers of probes.py in each of
its processes, a kept-alive client sending single-row requests and then
100,000-row requests, and the floors beside them (floors.py, r_floor.R).

-> a dict of phases, each {requests, client p50/p99, stages: [{stage, process,
calls_per_request, p50_ms, per_request_ms}]}, and the floors; `table()` writes
it as markdown.
"""

import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ..floor import r_floor
from ..servers import HOST, ROOT, Server
from ..workload import Workload
from . import floors

HERE = Path(__file__).resolve().parent

# Each stage, the process it runs in, what it is; the order a request meets them.
STAGES = [
    ("front.http_read_parse", "front", "HTTP read and parse (waitress's channel)"),
    ("front.wsgi_call", "front", "waitress task: the WSGI call and writing the answer"),
    ("front.middleware.*", "front", "middleware, each (process_request/resource/response)"),
    ("front.resource", "front", "the resource (everything below, and the route's own work)"),
    ("front.content_type", "front", "content-type negotiation"),
    ("front.body_parse", "front", "body parse (JSON rows/columns/CSV -> columns)"),
    ("front.resolve", "front", "resolve the model"),
    ("front.request_prepare", "front", "request preparation and checks (typed columns)"),
    ("front.dispatch_total", "front", "dispatch: queue, worker thread, pipe, worker, back"),
    ("front.worker_round_trip", "front", "worker thread: send, await the reply, deliver"),
    ("front.pipe_await", "front", "worker thread: waiting for and reading the reply"),
    ("pickle.dumps", "both", "pickling"),
    ("pickle.loads", "both", "unpickling"),
    ("pipe.send", "both", "pipe send (pickle + write)"),
    ("pipe.receive", "front", "pipe receive of the reply (read + unpickle)"),
    ("worker.handle", "worker", "worker: from reading the message to sending its reply"),
    ("worker.r_session_run", "worker", "R session door (release dead R objects, run)"),
    ("worker.predict_many", "worker", "the model's predict_many (below)"),
    ("worker.to_r", "worker", "conversion into R (column vectors)"),
    ("worker.r_wrapper_call", "worker", "the bridge's R wrapper around predict() (all of it)"),
    ("worker.r_predict", "worker", "R's predict() itself (timed in R)"),
    ("worker.from_r", "worker", "conversion back (R vectors -> Python)"),
    ("worker.one_per_row", "worker", "the one-prediction-per-row check"),
    ("front.observers", "front", "the service's observers (metrics)"),
    ("front.response_records", "front", "prediction -> records"),
    ("front.response_encode", "front", "response encoding (orjson)"),
]


def run(model=ROOT / "r_models" / "mtcars_lm.rds", single=1200, warmup=200, bulk_rows=100_000,
        bulk_runs=5, out_dir=None, floor_calls=2000):
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="budget-"))
    records = out_dir / "records"
    records.mkdir(parents=True, exist_ok=True)
    work = Workload.make(bulk_rows)
    env = {"BRIDGE_BUDGET_DIR": str(records),
           "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
    argv = [sys.executable, "-m", "bridge", "serve", "--models", str(Path(model).parent),
            "--port", "{port}", "--workers", "1"]
    name = Path(model).name.split(".")[0]
    bridge = Server("bridge", argv, f"/models/{name}/predict", out_dir / "bridge.log", env=env)
    phases = {}
    bridge.start(work.single)
    try:
        conn = http.client.HTTPConnection(HOST, bridge.port, timeout=120)
        phases["single"] = _phase(conn, bridge, work.single, single, warmup, records, 1)
        phases["bulk"] = _phase(conn, bridge, work.json_rows(), bulk_runs, 1, records, bulk_rows)
        conn.close()
    finally:
        bridge.stop()
    hello = _hello(work.single, single, warmup, out_dir)
    rows_csv = work.write_csv(out_dir / "rows.csv")
    r = r_floor(model, rows_csv, floor_calls)
    floor = {"hello_world_ms": hello, "pipe_round_trip_ms": floors.pipe_round_trip(floor_calls),
             "empty_rpy2_call_ms": floors.empty_rpy2_call(floor_calls),
             "r_predict_single_ms": r["single_s"] * 1000,
             "r_predict_single_idle_ms": r["single_idle_s"] * 1000, "r_predict_bulk_ms": r["bulk_s"] * 1000}
    return {"phases": phases, "floors": floor, "model": str(model), "load": os.getloadavg()}


def _phase(conn, bridge, body, count, warmup, records, rows):
    headers = {"Content-Type": "application/json"}
    for _ in range(warmup):
        _post(conn, bridge.predict_path, body, headers)
    t_start, latencies = time.time(), []
    for _ in range(count):
        t0 = time.perf_counter()
        _post(conn, bridge.predict_path, body, headers)
        latencies.append((time.perf_counter() - t0) * 1000)
    t_end = time.time()
    # Each process writes its records at most once a second, the worker after a
    # reply: wait, then two requests outside the window make both write.
    time.sleep(1.2)
    small = Workload.make(1).single
    for _ in range(2):
        _post(conn, bridge.predict_path, small, headers)
        time.sleep(1.1)
    return {"requests": count, "rows": rows, "client_p50_ms": statistics.median(latencies),
            "client_p99_ms": _quantile(latencies, 0.99),
            "stages": _stages(records, t_start, t_end, count)}


def _post(conn, path, body, headers):
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {data[:300]!r}")
    return data


def _stages(records, t_start, t_end, requests):
    """Per stage and process: the calls inside the window, per request."""
    by = {}
    for path in records.glob("*.json"):
        data = json.loads(path.read_text())
        role = "worker" if any("workers/worker.py" in a for a in data["argv"]) else "front"
        for stage, values in data["stages"].items():
            inside = [d for end, d in values if t_start <= end <= t_end]
            if inside:
                by.setdefault((stage, role), []).extend(inside)
    out = []
    for (stage, role), durations in by.items():
        out.append({"stage": stage, "process": role, "calls": len(durations),
                    "calls_per_request": len(durations) / requests,
                    "p50_ms": statistics.median(durations) * 1000,
                    "per_request_ms": sum(durations) * 1000 / requests})
    order = {s: i for i, (s, _, _) in enumerate(STAGES)}
    out.sort(key=lambda s: (order.get(s["stage"], order["front.middleware.*"] + 0.5
                                      if s["stage"].startswith("front.middleware.") else 99),
                            s["stage"], s["process"]))
    return out


def _hello(body, count, warmup, out_dir):
    """Client p50 against waitress + falcon answering a fixed body."""
    server = Server("hello", [sys.executable, "-m", "bench.budget.floors", "hello", "{port}", "64"],
                    "/hello", out_dir / "hello.log")
    server.start(body)
    try:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        for _ in range(warmup):
            _post(conn, "/hello", body, headers)
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            _post(conn, "/hello", body, headers)
            times.append((time.perf_counter() - t0) * 1000)
        conn.close()
        return statistics.median(times)
    finally:
        server.stop()


def _quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(result):
    """The budget as markdown: one table per phase, the floors under it."""
    floor = result["floors"]
    lines = []
    what = {s: w for s, _, w in STAGES}
    for phase, data in result["phases"].items():
        title = "one single-row request" if data["rows"] == 1 else f"one {data['rows']:,}-row request"
        lines += [f"### {title} ({data['requests']} requests, kept-alive connection)", "",
                  f"Client: p50 {data['client_p50_ms']:.3f} ms, p99 {data['client_p99_ms']:.3f} ms.", "",
                  "| stage | process | calls/request | p50 per call (ms) | per request (ms) |",
                  "|---|---|---|---|---|"]
        for s in data["stages"]:
            label = what.get(s["stage"]) or s["stage"].replace("front.middleware.", "middleware ")
            lines.append(f"| {label} (`{s['stage']}`) | {s['process']} | {s['calls_per_request']:.2f} "
                         f"| {s['p50_ms']:.4f} | {s['per_request_ms']:.4f} |")
        lines.append("")
    lines += ["### The floors", "",
              "| floor | ms |", "|---|---|",
              f"| hello world (waitress + falcon, fixed answer, same client) | {floor['hello_world_ms']:.3f} |",
              f"| empty pipe round trip (bridge framing, small message) | {floor['pipe_round_trip_ms']:.4f} |",
              f"| empty rpy2 call (`function() NULL`) | {floor['empty_rpy2_call_ms']:.4f} |",
              f"| R's predict() alone, one row (Rscript loop) | {floor['r_predict_single_ms']:.4f} |",
              "| R's predict() alone, one row, each call after 2 ms asleep (a server's case) | "
              f"{floor['r_predict_single_idle_ms']:.4f} |",
              f"| R's predict() alone, 100,000 rows | {floor['r_predict_bulk_ms']:.1f} |", ""]
    return "\n".join(lines)

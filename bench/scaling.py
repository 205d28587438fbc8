"""python -m bench scaling: what `--workers N` and the front's `--threads`
do on this machine, against waitress's hello world (the front's cap) and
Plumber at the same connection counts, and which process is the bottleneck.

Each point is one wrk run (single-row requests, keep-alive) on a freshly
started server. During it the CPU time of every process is read from /proc:
the front, each R worker, wrk itself (it shares the cores) and the rest of
the machine (other users), as % of one core, and the CPU milliseconds each
process spent per answered request: the measured inputs of the estimate
for a bigger machine in docs/benchmarks.md.

"two fronts" runs two bridges (`--workers 1` each) on two ports with wrk's
connections split between them: what several front processes behind one
port (SO_REUSEPORT) would give here, without building it.
"""

import concurrent.futures
import dataclasses
import math
import os
import re
import resource
import sys
import time
from pathlib import Path

import orjson

from . import load, procs, servers
from .workload import Workload

ROOT = servers.ROOT


@dataclasses.dataclass(frozen=True)
class Plan:
    workers: tuple = (1, 2, 3)
    threads: tuple = (4, 16, 64)      # 64 is the bridge's default
    connections: tuple = (1, 8, 32)
    seconds: int = 6
    plumber: bool = True
    hello: bool = True
    two_fronts: bool = True
    repeat: bool = True               # the first bridge configuration again, at the end


QUICK = Plan(workers=(1, 2), threads=(16,), connections=(1, 32), seconds=3)


@dataclasses.dataclass
class Point:
    server: str          # "bridge", "hello", "plumber", "two fronts", "bridge (repeat)"
    workers: int
    threads: int
    connections: int
    setting: str         # keep-alive | Connection: close
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu: dict            # role -> % of one core during the run
    cpu_ms_per_request: dict  # role -> CPU ms per answered request
    load: tuple          # os.getloadavg() at the end of the run
    per_r_call: float = None  # the bridge's requests per R call (its /metrics), else None


def say(*parts):
    print("[bench scaling]", *parts, file=sys.stderr, flush=True)


class CpuWindow:
    """CPU used by named processes over one run, and by everything else:
    wrk (a reaped child: its rusage lands in RUSAGE_CHILDREN once it ends)
    and the rest of the machine (/proc/stat's busy time minus ours)."""

    def __init__(self, pids):
        self.pids = pids  # role -> pid

    def __enter__(self):
        self.t0 = time.monotonic()
        self.own = {role: procs.cpu_seconds(pid) or 0.0 for role, pid in self.pids.items()}
        self.children = _children_cpu()
        self.busy = _machine_busy()
        return self

    def __exit__(self, *exc):
        self.seconds = time.monotonic() - self.t0
        used = {role: (procs.cpu_seconds(pid) or 0.0) - self.own[role]
                for role, pid in self.pids.items()}
        used["wrk"] = _children_cpu() - self.children
        machine = _machine_busy() - self.busy
        used["other"] = max(0.0, machine - sum(used.values()))
        self.used = used  # CPU seconds per role

    def percent(self):
        return {role: 100 * s / self.seconds for role, s in self.used.items()}

    def per_request_ms(self, requests):
        return {role: 1000 * s / requests for role, s in self.used.items()
                if role not in ("wrk", "other")} if requests else {}


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_busy():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def roles(server):
    """role -> pid: the front and each R worker (worker 0, 1, ...) of a bridge;
    the one process of Plumber or hello world."""
    kids = procs.children(server.proc.pid)
    out = {"front": server.proc.pid}
    out.update({f"worker {i}": pid for i, pid in enumerate(kids)})
    return out


def measure(server, body, connections, seconds, close=False, label=None, workers=0,
            threads=0):
    batches = batch_counts(server) if server.name == "bridge" else None
    with CpuWindow(roles(server)) as cpu:
        result = load.wrk(server.url, body, threads=min(2, connections),
                          connections=connections, duration=seconds, close=close,
                          abort=lambda: not server.alive())
    per_r_call = None
    if batches is not None:
        after = batch_counts(server)
        calls = after[1] - batches[1]
        per_r_call = (after[0] - batches[0]) / calls if calls else None
    return Point(server=label or server.name, workers=workers, threads=threads,
                 connections=connections, setting="Connection: close" if close else "keep-alive",
                 rps=result.rps, p50_ms=result.latency_ms.get("50", math.nan),
                 p99_ms=result.latency_ms.get("99", math.nan), errors=result.errors,
                 requests=result.requests, cpu=cpu.percent(),
                 cpu_ms_per_request=cpu.per_request_ms(result.requests), load=os.getloadavg(),
                 per_r_call=per_r_call)


def batch_counts(server):
    """(requests, R calls) so far, summed over models, from the bridge's
    bridge_batch_requests histogram: requests per R call is how much
    micro-batching shared each call."""
    status, text = servers.get(server.port, "/metrics")
    if status != 200:
        return (0.0, 0.0)
    found = {}
    for kind in ("sum", "count"):
        found[kind] = sum(float(v) for v in re.findall(
            rf"^bridge_batch_requests_{kind}{{[^}}]*}} (\S+)$", text.decode(), re.M))
    return found["sum"], found["count"]


def hello(log_dir, threads):
    """waitress + falcon answering a fixed body (bench/budget/floors.py)."""
    return servers.Server("hello", [sys.executable, "-m", "bench.budget.floors", "hello",
                                    "{port}", threads], "/hello",
                          Path(log_dir) / f"hello-{threads}.log")


def run(model, models_dir, out_dir, plan=Plan()):
    out_dir = Path(out_dir)
    body = Workload.make(1).single
    points = []

    def add(point):
        points.append(point)
        say(f"{point.server} w{point.workers} t{point.threads} c{point.connections} "
            f"{point.setting}: {point.rps:,.0f} req/s, p99 {point.p99_ms:.1f} ms, CPU% " +
            ", ".join(f"{k} {v:.0f}" for k, v in point.cpu.items()))

    def bridge_points(workers, threads, connections, label="bridge"):
        server = servers.bridge(models_dir, out_dir / f"bridge-w{workers}-t{threads}",
                                workers, threads=threads)
        with server.start(body):
            servers.wait_ready(server.port)
            check(server, model, body)
            warm(server, body, connections)
            for c in connections:
                add(measure(server, body, c, plan.seconds, label=label, workers=workers,
                            threads=threads))

    for threads in plan.threads if plan.hello else ():
        with hello(out_dir, threads).start(body) as server:
            warm(server, body, plan.connections)
            for c in plan.connections:
                add(measure(server, body, c, plan.seconds, threads=threads))
    for workers in plan.workers:
        for threads in plan.threads:
            bridge_points(workers, threads, plan.connections)
    if plan.plumber:
        with servers.plumber(model, out_dir).start(body) as server:
            warm(server, body, plan.connections)
            for c in plan.connections:
                for close in (True, False):
                    add(measure(server, body, c, plan.seconds, close=close, workers=1))
    if plan.two_fronts:
        for p in two_fronts(models_dir, out_dir, body, plan):
            add(p)
    if plan.repeat:
        bridge_points(plan.workers[0], plan.threads[-1], plan.connections[-1:],
                      label="bridge (repeat)")
    return points


def two_fronts(models_dir, out_dir, body, plan):
    """Two bridges, `--workers 1` each, wrk's connections split evenly: the
    ceiling of SO_REUSEPORT fronts on this machine. One point per count >1."""
    threads = plan.threads[-1]
    started = []
    try:
        for i in range(2):
            server = servers.bridge(models_dir, out_dir / f"front-{i}", 1, threads=threads)
            started.append(server.start(body))
        for server in started:
            servers.wait_ready(server.port)
            warm(server, body, plan.connections)
        out = []
        for c in (c for c in plan.connections if c >= 2):
            pids = {f"{i}:{role}": pid for i, s in enumerate(started)
                    for role, pid in roles(s).items()}
            with CpuWindow(pids) as cpu:
                with concurrent.futures.ThreadPoolExecutor(2) as pool:
                    runs = list(pool.map(lambda s: load.wrk(s.url, body, threads=1,
                                                            connections=c // 2,
                                                            duration=plan.seconds), started))
            # each front's processes per request that front answered
            per = {role: 1000 * used / runs[int(role.split(":")[0])].requests
                   for role, used in cpu.used.items()
                   if ":" in role and runs[int(role.split(":")[0])].requests}
            out.append(Point(server="two fronts", workers=2, threads=threads, connections=c,
                             setting="keep-alive", rps=sum(r.rps for r in runs),
                             p50_ms=max(r.latency_ms.get("50", math.nan) for r in runs),
                             p99_ms=max(r.latency_ms.get("99", math.nan) for r in runs),
                             errors=sum(r.errors for r in runs),
                             requests=sum(r.requests for r in runs),
                             cpu=cpu.percent(), cpu_ms_per_request=per, load=os.getloadavg()))
        return out
    finally:
        for server in started:
            server.stop()


def warm(server, body, connections):
    """2 s of load at the largest connection count, not measured: the front's
    threads and connections, the workers' first R calls."""
    load.wrk(server.url, body, threads=min(2, max(connections)), connections=max(connections),
             duration=2)


def check(server, model, body):
    """The bridge answers the probe row as the benchmark's model would (the
    full check against R is bench/run.py's; here: an answer, one value)."""
    status, data = servers.post(server.port, server.predict_path, body)
    got = orjson.loads(data).get("predictions") if status == 200 else None
    if not got or len(got) != 1 or not isinstance(got[0], float):
        raise load.LoadError(f"{server.name}: {status} {data[:300]!r}")


def table(points):
    """Markdown: one row per point, CPU % of one core per process."""
    lines = ["| server | workers | threads | conns | setting | req/s | p50 ms | p99 ms | errors "
             "| CPU % (of one core) | CPU ms per request | requests per R call | load (1 min) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in p.cpu.items())
        per = ", ".join(f"{k} {v:.3f}" for k, v in p.cpu_ms_per_request.items())
        lines.append(f"| {p.server} | {p.workers or '-'} | {p.threads or '-'} | {p.connections} "
                     f"| {p.setting} | {p.rps:,.0f} | {p.p50_ms:.2f} | {p.p99_ms:.2f} "
                     f"| {p.errors} | {cpu} | {per} "
                     f"| {'-' if p.per_r_call is None else f'{p.per_r_call:.1f}'} | {p.load[0]:.2f} |")
    return "\n".join(lines) + "\n"


def write(points, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = table(points)
    (out_dir / "scaling.md").write_text(text)
    (out_dir / "scaling.json").write_text(
        orjson.dumps([dataclasses.asdict(p) for p in points], option=orjson.OPT_INDENT_2).decode())
    return text

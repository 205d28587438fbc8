"""One benchmark run: the R floor, then Plumber and the bridge side by side,
case by case (interleaved, so background load on a shared machine hits both)."""

import concurrent.futures
import dataclasses
import math
import sys
from pathlib import Path

import orjson

from . import load, procs, servers
from .floor import r_floor
from .workload import Workload

ROOT = servers.ROOT


@dataclasses.dataclass(frozen=True)
class Sizes:
    seq_requests: int      # case 1: requests per setting (a deadline also bounds it)
    seq_seconds: float
    stall_seconds: float   # case 1 for Plumber keep-alive, ~40 ms per request
    wrk_seconds: int       # case 2
    bulk_rows: int         # case 3
    bulk_runs: int
    mem_first: int         # case 4: RSS sampled after this many requests ...
    mem_total: int         # ... and after this many
    floor_loops: int       # single-row predict() calls timed inside R


FULL = Sizes(seq_requests=2000, seq_seconds=8, stall_seconds=4, wrk_seconds=10,
             bulk_rows=100_000, bulk_runs=3, mem_first=2000, mem_total=20000, floor_loops=2000)
QUICK = Sizes(seq_requests=300, seq_seconds=3, stall_seconds=2, wrk_seconds=3,
              bulk_rows=100_000, bulk_runs=1, mem_first=500, mem_total=5000, floor_loops=500)


@dataclasses.dataclass
class Results:
    sizes: Sizes
    workers: int
    floor: dict
    floor_end: dict = None  # the same, after the servers stopped: a gauge of the noise
    bridge_command: str = ""
    notes: list = dataclasses.field(default_factory=list)
    # A bridge measurement is None where the bridge died during it (see notes).
    sequential: dict = dataclasses.field(default_factory=dict)   # (server, setting) -> WrkResult, 1 connection
    sequential_python: dict = dataclasses.field(default_factory=dict)  # the same -> Sequential (http.client)
    concurrent: dict = dataclasses.field(default_factory=dict)   # (server, setting) -> WrkResult
    bulk: dict = dataclasses.field(default_factory=dict)         # (server, format) -> Bulk
    memory: dict = dataclasses.field(default_factory=dict)
    plumber_group: dict = dataclasses.field(default_factory=dict)


def say(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


def run(model, models_dir, out_dir, workers=2, sizes=FULL, plumber_processes=1):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Workload.make(sizes.bulk_rows)
    say(f"R floor: predict() inside Rscript ({sizes.floor_loops} single-row calls, "
        f"{sizes.bulk_rows:,} rows x3)")
    rows_csv = work.write_csv(out_dir / "rows.csv")
    floor = r_floor(model, rows_csv, sizes.floor_loops)
    bench = Bench(model, models_dir, out_dir, workers, sizes, work,
                  Results(sizes=sizes, workers=workers, floor=floor))
    try:
        bench.cases(plumber_processes)
    finally:
        bench.stop()
    say("R floor again, to show how much the machine's load moved during the run")
    bench.results.floor_end = r_floor(model, rows_csv, sizes.floor_loops)
    return bench.results


class Bench:
    def __init__(self, model, models_dir, out_dir, workers, sizes, work, results):
        self.model, self.models_dir, self.out_dir = model, models_dir, out_dir
        self.workers, self.sizes, self.work, self.results = workers, sizes, work, results
        self.single = work.single
        self.started = []
        self.plumber = self.bridge = None
        self.bridge_starts = 0

    def stop(self):
        for server in reversed(self.started):
            server.stop()

    def start_plumber(self, tag="plumber"):
        server = servers.plumber(self.model, self.out_dir, tag=tag)
        self.started.append(server)
        return server.start(self.single)

    def start_bridge(self):
        self.bridge_starts += 1
        log_dir = self.out_dir if self.bridge_starts == 1 else \
            self.out_dir / f"bridge-restart-{self.bridge_starts - 1}"
        bridge, note = servers.start_bridge(self.models_dir, log_dir, self.workers, self.single)
        self.started.append(bridge)
        self.bridge = bridge
        self.results.bridge_command = " ".join(["python"] + bridge.argv[1:]).replace(
            str(ROOT) + "/", "")
        if note and note not in self.results.notes:
            say("NOTE:", note)
            self.results.notes.append(note)
        self.workers_seen = set(procs.children(bridge.proc.pid))
        return bridge

    def on(self, who, label, fn):
        """fn(server) on Plumber, or on the bridge through on_bridge()."""
        return fn(self.plumber) if who == "plumber" else self.on_bridge(label, fn)

    def on_bridge(self, label, fn):
        """fn(bridge) -> its result; None if the bridge died and fn raised. A
        death or a replaced worker is noted, and a dead bridge restarted, so
        the other cases still run."""
        try:
            result = fn(self.bridge)
        except (OSError, load.LoadError):
            if self.bridge.alive():
                raise
            result = None
        if not self.bridge.alive():
            note = f"the bridge process died during {label}: {self.bridge.death()}"
            say("NOTE:", note, "(restarting it)")
            log = self.bridge.log_path.relative_to(ROOT)
            self.results.notes.append(f"{note} (its log: {log}); restarted for the next cases")
            self.bridge.stop()
            self.start_bridge()
        else:
            now = set(procs.children(self.bridge.proc.pid))
            if self.workers_seen and now != self.workers_seen:
                gone = len(self.workers_seen - now)
                note = (f"{gone} bridge worker process(es) ended and were replaced during "
                        f"{label}" + _fatal(self.bridge.output()))
                say("NOTE:", note)
                self.results.notes.append(note)
                self.workers_seen = now
        return result

    def cases(self, plumber_processes):
        res, sizes, single = self.results, self.sizes, self.single
        say("starting Plumber and the bridge")
        self.plumber = plumber = self.start_plumber()
        self.start_bridge()
        check_same(res.floor, self.work, plumber, self.bridge)

        # Case 4 first, on the fresh bridge: requests 1..N are the count.
        say(f"case 4: memory, {sizes.mem_total:,} single-row requests to the bridge")
        res.memory = self.on_bridge("case 4 (memory)", lambda b: memory(b, single, sizes)) or {}
        res.memory["plumber_rss_start"] = procs.snapshot(plumber.proc.pid)

        say("case 1: sequential single-row requests, one connection (wrk -t1 -c1)")
        for who, setting, close in (("plumber", "Connection: close", True),
                                    ("bridge", "keep-alive", False),
                                    ("plumber", "keep-alive", False)):
            stall = who == "plumber" and not close

            def measure(server, close=close, stall=stall):
                return load.wrk(server.url, single, threads=1, connections=1, close=close,
                                duration=sizes.stall_seconds if stall else sizes.seq_seconds,
                                abort=lambda: not server.alive())

            result = self.on(who, "case 1 (sequential)", measure)
            res.sequential[(who, setting)] = result
            say(f"  {who} {setting}: " + (f"{result.rps:,.0f} req/s" if result else "died"))
        # For information: the same with Python's http.client, the client of
        # earlier runs (its own ~0.3 ms per request is in every figure).
        for who, setting, keep_alive in (("plumber", "Connection: close", False),
                                         ("bridge", "keep-alive", True)):
            def measure(server, keep_alive=keep_alive):
                return load.sequential(server.port, server.predict_path, single,
                                       keep_alive=keep_alive, max_requests=sizes.seq_requests,
                                       max_seconds=sizes.seq_seconds)

            result = self.on(who, "case 1 (Python client)", measure)
            res.sequential_python[(who, setting)] = result

        say(f"case 2: 32 concurrent connections, wrk -t2 -c32 -d{sizes.wrk_seconds}s")
        for who, setting, close in (("plumber", "keep-alive", False),
                                    ("bridge", "keep-alive", False),
                                    ("plumber", "Connection: close", True)):
            def measure(server, close=close):
                workers = procs.children(server.proc.pid) or [server.proc.pid]
                before = {pid: procs.cpu_seconds(pid) for pid in workers}
                result = load.wrk(server.url, single, duration=sizes.wrk_seconds, close=close,
                                  abort=lambda: not server.alive())
                # Keep-alive connections stay with the worker that accepted them:
                # how the CPU split between workers shows whether all of them served.
                result.worker_cpu = {pid: (procs.cpu_seconds(pid) or 0) - (before[pid] or 0)
                                     for pid in workers}
                return result

            result = self.on(who, "case 2 (32 concurrent)", measure)
            res.concurrent[(who, setting)] = result
            say(f"  {who} {setting}: " + (
                f"{result.rps:,.0f} req/s, p99 {result.latency_ms.get('99', math.nan):.1f} ms, "
                f"errors {result.errors}" if result else "died"))

        if plumber_processes > 1:
            res.plumber_group = self.plumber_group(plumber_processes)

        say(f"case 3: one request with {sizes.bulk_rows:,} rows, {sizes.bulk_runs} run(s)")
        check = sum_check(res.floor["sum"])
        for fmt, encode in (("JSON rows", self.work.json_rows),
                            ("column JSON", self.work.json_columns)):
            body = encode()

            def measure(server, body=body):
                return load.bulk(server.port, server.predict_path, body, sizes.bulk_rows,
                                 runs=sizes.bulk_runs, check=check)

            for who in ("plumber", "bridge"):
                result = self.on(who, f"case 3 ({fmt})", measure)
                res.bulk[(who, fmt)] = result
                say(f"  {who} {fmt}: " + (f"{result.median:.3f} s" if result else "died"))

        res.memory["bridge_rss_end"] = procs.snapshot(self.bridge.proc.pid)
        res.memory["plumber_rss_end"] = procs.snapshot(plumber.proc.pid)
        fatal = _fatal(self.bridge.output())
        if fatal and not any("died" in n or "replaced" in n for n in res.notes):
            res.notes.append("the bridge's log has" + fatal)

    def plumber_group(self, count):
        """For information only: `count` Plumber processes on `count` ports, wrk's
        32 connections split evenly over them, no load balancer in front."""
        res = self.results
        best = max(("keep-alive", "Connection: close"),
                   key=lambda s: res.concurrent[("plumber", s)].rps)
        group = [self.plumber] + [self.start_plumber(tag=f"plumber-{i + 1}")
                                  for i in range(1, count)]
        say(f"  (info) {count} Plumber processes, {best}, 32 connections split over them")
        per = 32 // count
        with concurrent.futures.ThreadPoolExecutor(count) as pool:
            runs = list(pool.map(lambda s: load.wrk(s.url, self.single, threads=1,
                                                    connections=per,
                                                    duration=self.sizes.wrk_seconds,
                                                    close=best != "keep-alive"), group))
        for extra in group[1:]:
            extra.stop()
        return {"processes": count, "setting": best, "runs": runs,
                "rps": sum(r.rps for r in runs),
                "p50_max": max(r.latency_ms.get("50", math.nan) for r in runs),
                "p99_max": max(r.latency_ms.get("99", math.nan) for r in runs),
                "errors": sum(r.errors for r in runs)}


def _fatal(log):
    lines = [line for line in log.splitlines() if line.startswith("Fatal Python error")]
    return f" ({len(lines)}x in its log: {lines[0].strip()})" if lines else ""


def check_same(floor, work, plumber, bridge):
    """The harness is only worth its figures if both servers predict what R does."""
    for server in (plumber, bridge):
        status, body = servers.post(server.port, server.predict_path, work.head(3))
        if status != 200:
            raise RuntimeError(f"{server.name}: {status} {body[:300]!r}")
        got = orjson.loads(body)["predictions"]
        if len(got) != 3 or not all(math.isclose(a, b, rel_tol=1e-9)
                                    for a, b in zip(got, floor["head"])):
            raise RuntimeError(f"{server.name} predicts {got}, R predicts {floor['head']}")


def sum_check(expected):
    def check(predictions):
        if not math.isclose(sum(predictions), expected, rel_tol=1e-9):
            raise load.LoadError(f"sum of predictions {sum(predictions)} != R's {expected}")
    return check


def memory(bridge, single, sizes):
    """RSS per worker after ~mem_first and ~mem_total single-row requests
    (wrk, 8 connections, stopping after a count)."""
    dead = lambda: not bridge.alive()  # noqa: E731
    first = load.wrk(bridge.url, single, connections=8, duration=300, limit=sizes.mem_first,
                     abort=dead)
    at_first = procs.snapshot(bridge.proc.pid) if bridge.alive() else {}
    rest = load.wrk(bridge.url, single, connections=8, duration=600,
                    limit=sizes.mem_total - first.requests, abort=dead)
    at_total = procs.snapshot(bridge.proc.pid) if bridge.alive() else {}
    return {"first_requests": first.requests, "total_requests": first.requests + rest.requests,
            "errors": first.errors + rest.errors, "rss_first": at_first, "rss_total": at_total,
            "supervisor_rss": procs.rss_bytes(bridge.proc.pid) if bridge.alive() else None}

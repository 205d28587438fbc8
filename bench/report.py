"""The results as a Markdown report: the verdict table against the issue's
targets, every measurement behind it, R's floor and the machine."""

import datetime
import math
import os
import platform
import subprocess
import sys

from .servers import ROOT

MB = 1024 * 1024


def machine():
    info = {"nproc": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "cpu": _first("/proc/cpuinfo", "model name"),
            "ram_gb": int(_first("/proc/meminfo", "MemTotal").split()[0]) / 1024 / 1024,
            "python": platform.python_version(), "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "load_start": os.getloadavg()}
    try:
        info["wrk"] = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                                     timeout=10).stdout.splitlines()[0].split(" Copyright")[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        info["wrk"] = "?"
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(git + ["log", "-1", "--format=%h %s"], capture_output=True, text=True)
    dirty = subprocess.run(git + ["status", "--porcelain", "--", "bridge"], capture_output=True,
                           text=True).stdout.strip()
    info["commit"] = head.stdout.strip() + (" (bridge/ has uncommitted changes)" if dirty else "")
    return info


def _first(path, key):
    with open(path) as f:
        for line in f:
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return "?"


def _rps(x):
    return f"{x:,.0f} req/s"


def _verdict(ok):
    return "pass" if ok else "**FAIL**"


def _best(results_by_setting, server, key):
    options = {setting: r for (name, setting), r in results_by_setting.items() if name == server}
    setting = max(options, key=lambda s: key(options[s]))
    return setting, options[setting]


DIED = "died (see notes)"


def verdict_rows(res):
    """[(case, plumber, bridge, ratio, target, ok)]; a case where the bridge
    died has no ratio and fails."""
    rows = []
    setting, p = _best(res.sequential, "plumber", lambda r: r.rps if r.errors == 0 else 0)
    b = res.sequential[("bridge", "keep-alive")]
    ratio = b.rps / p.rps if b else None
    rows.append(("1. single-row, 1 sequential client (wrk, 1 connection)", f"{_rps(p.rps)} ({setting})",
                 f"{_rps(b.rps)} (keep-alive)" + (f", {b.errors:,} errors" if b.errors else "")
                 if b else DIED, ratio, ">= 2.5x", bool(b) and ratio >= 2.5 and b.errors == 0))
    # Issue 22: the client's latency per request against R's own predict()
    # for that row, measured in the same run (a ratio that holds on any machine).
    r_ms = res.floor["single_s"] * 1e3
    client_ms = 1e3 / b.rps if b else None
    over_r = client_ms / r_ms if b else None
    idle_ms = res.floor.get("single_idle_s", math.nan) * 1e3
    rows.append(("1b. single-row client latency / R's own predict() (same run)",
                 f"R: {r_ms:.3f} ms per call in a loop ({idle_ms:.3f} after 2 ms idle)",
                 f"{client_ms:.3f} ms per request" if b else DIED,
                 over_r, "<= 3x", bool(b) and over_r <= 3 and b.errors == 0))

    setting, p = _best(res.concurrent, "plumber", lambda r: r.rps if r.errors == 0 else 0)
    b = res.concurrent[("bridge", "keep-alive")]
    ratio = b.rps / p.rps if b else None
    p99 = b.latency_ms.get("99", math.nan) if b else math.nan
    rows.append(("2. single-row, 32 concurrent connections (wrk)",
                 f"{_rps(p.rps)}, {_latency(p)} ({setting})",
                 f"{_rps(b.rps)}, {_latency(b)}" + (f", {b.errors:,} errors" if b.errors else "")
                 if b else DIED,
                 ratio, ">= 6x and p99 < 50 ms",
                 bool(b) and ratio >= 6 and p99 < 50 and b.errors == 0))

    for label, fmt in (("3a", "JSON rows"), ("3b", "column JSON")):
        p, b = res.bulk[("plumber", fmt)], res.bulk[("bridge", fmt)]
        ratio = p.median / b.median if b else None
        rows.append((f"{label}. one request, {p.nrows:,} rows, {fmt}", f"{p.median:.3f} s",
                     f"{b.median:.3f} s" if b else DIED, ratio, ">= 5x",
                     bool(b) and ratio >= 5))

    m = res.memory
    plumber_rss = "; ".join(f"{v / MB:.0f} MB" for v in m["plumber_rss_end"].values())
    case = "4. memory: RSS per worker, growth"
    if "rss_first" not in m:
        rows.append((case, f"{plumber_rss} (1 process)", DIED, None, "< 10% growth", False))
        return rows
    growth = {pid: m["rss_total"][pid] / m["rss_first"][pid] - 1
              for pid in m["rss_first"] if pid in m["rss_total"]}
    same = bool(m["rss_total"]) and set(m["rss_first"]) == set(m["rss_total"])
    worst = max(growth.values()) if growth else math.nan
    workers = ", ".join(f"{m['rss_first'][pid] / MB:.0f} MB" for pid in sorted(m["rss_first"]))
    after = (f"growth {worst:+.1%}" if same else
             "not measurable: the bridge died" if not m["rss_total"] else
             f"a worker was replaced; growth of the others {worst:+.1%}")
    rows.append((f"{case} from request {m['first_requests']:,} to {m['total_requests']:,}",
                 f"{plumber_rss} (1 process, after its cases)",
                 f"{len(m['rss_first'])} worker(s): {workers}; {after}"
                 + (f"; {m['errors']:,} errors" if m["errors"] else ""),
                 None, "< 10% growth", same and worst < 0.10 and m["errors"] == 0))
    return rows


def _latency(r, digits=1):
    return (f"p50 {r.latency_ms.get('50', math.nan):.{digits}f} ms, "
            f"p99 {r.latency_ms.get('99', math.nan):.{digits}f} ms")


def markdown(res, info):
    sizes = res.sizes
    out = ["# Benchmark: R Bridge vs Plumber", ""]
    out += [f"Model `r_models/mtcars_lm.rds` (`lm(mpg ~ wt + hp + cyl)`, cyl a factor), the same "
            f"file in both servers, both on 127.0.0.1 on this machine, in one run. "
            f"Bridge: `{res.bridge_command}`. "
            f"Plumber: Debian's r-cran-plumber {res.floor['plumber']} (httpuv "
            f"{res.floor['httpuv']}, jsonlite {res.floor['jsonlite']}), "
            f"`bench/plumber_bench.R` run by `pr_run()`.", ""]
    out += ["**Caveat:** a 2-core machine shared with other engineers' test runs while this ran "
            f"(load average {_load(info['load_start'])} at the start, "
            f"{_load(info.get('load_end', (math.nan,) * 3))} at the end): absolute figures are "
            "noisy; the cases interleave Plumber and the bridge so both see the same noise.", ""]
    for note in res.notes:
        out += [f"**Note:** {note}.", ""]

    out += verdict_table(res) + [""]

    out += ["## Every measurement", "",
            "| case | server | setting | figure |", "|---|---|---|---|"]
    for (server, setting), r in res.sequential.items():
        out.append(f"| 1 sequential (wrk -t1 -c1) | {server} | {setting} | " + (
            f"{_rps(r.rps)} ({r.requests:,} requests in {r.seconds:.1f} s; {1e3 / r.rps:.3f} ms "
            f"per request, {_latency(r, 3)}) |" if r else DIED + " |"))
    for (server, setting), r in res.sequential_python.items():
        out.append(f"| 1 sequential (Python http.client, information) | {server} | {setting} | " + (
            f"{_rps(r.rps)} ({r.requests:,} requests in {r.seconds:.1f} s; {1e3 / r.rps:.3f} ms "
            "per request) |" if r else DIED + " |"))
    for (server, setting), r in res.concurrent.items():
        if r is None:
            out.append(f"| 2 wrk -t2 -c32 | {server} | {setting} | {DIED} |")
            continue
        lat = ", ".join(f"p{k} {v:.1f} ms" for k, v in r.latency_ms.items())
        errs = f"; errors: {r.non_2xx} non-2xx, sockets {r.socket_errors}" if r.errors else ""
        cpu = ("; CPU seconds per process during the run: " + ", ".join(
            f"{v:.1f}" for v in r.worker_cpu.values())) if r.worker_cpu else ""
        out.append(f"| 2 wrk -t2 -c32 | {server} | {setting} | {_rps(r.rps)}; {lat}{errs}{cpu} |")
    if res.plumber_group:
        g = res.plumber_group
        out.append(f"| 2 (information) | {g['processes']} × plumber | {g['setting']}, "
                   f"{32 // g['processes']} connections each | {_rps(g['rps'])}; worst p50 "
                   f"{g['p50_max']:.1f} ms, worst p99 {g['p99_max']:.1f} ms"
                   f"{'; errors ' + str(g['errors']) if g['errors'] else ''} |")
    for (server, fmt), r in res.bulk.items():
        if r is None:
            out.append(f"| 3 one large request | {server} | {fmt} | {DIED} |")
            continue
        runs = ", ".join(f"{t:.3f}" for t in r.runs)
        out.append(f"| 3 {r.nrows:,} rows | {server} | {fmt} | median {r.median:.3f} s "
                   f"(runs: {runs}) |")
    m = res.memory
    for label, key in (("after request ~" + f"{m.get('first_requests', 0):,}", "rss_first"),
                       ("after request ~" + f"{m.get('total_requests', 0):,}", "rss_total")):
        values = ", ".join(f"pid {pid}: {rss / MB:.1f} MB"
                           for pid, rss in sorted(m.get(key, {}).items())) or DIED
        out.append(f"| 4 memory | bridge | {label} | {values} |")
    if m.get("supervisor_rss") and m["supervisor_rss"] not in m.get("rss_total", {}).values():
        out.append(f"| 4 memory | bridge | supervisor process | "
                   f"{m['supervisor_rss'] / MB:.1f} MB |")
    values = ", ".join(f"{rss / MB:.1f} MB" for rss in m["bridge_rss_end"].values())
    out.append(f"| 4 memory | bridge | after all cases (incl. the large requests) | {values} |")
    for key, label in (("plumber_rss_start", "after start and a few requests"),
                       ("plumber_rss_end", "after all cases (incl. the large requests)")):
        values = ", ".join(f"{rss / MB:.1f} MB" for rss in m[key].values())
        out.append(f"| 4 memory | plumber | {label} | {values} |")
    out.append("")

    f = res.floor
    b1 = res.sequential[("bridge", "keep-alive")]
    p1 = max((r for (name, _), r in res.sequential.items() if name == "plumber"),
             key=lambda r: r.rps)

    def bulk(server, fmt):
        r = res.bulk[(server, fmt)]
        return f"{r.median:.3f} s" if r else "—"

    e = res.floor_end or {}
    out += ["## The floor: R's own predict() on the same rows", "",
            f"Measured before the servers started and again after they stopped: "
            f"{f['single_s'] * 1e3:.3f} ms then {e.get('single_s', math.nan) * 1e3:.3f} ms per "
            f"single-row call, {f['bulk_s']:.3f} s then {e.get('bulk_s', math.nan):.3f} s for "
            f"{f['bulk_rows']:,} rows; the difference is the machine's load, not R.", "",
            f"- single row: {f['single_s'] * 1e3:.3f} ms per call (mean of {f['single_loops']:,} "
            f"calls in one Rscript), i.e. at most {1 / f['single_s']:,.0f} predictions/s on one "
            f"core; {f.get('single_idle_s', math.nan) * 1e3:.3f} ms (median of "
            f"{f.get('single_idle_loops', 0):,}) when each call comes after 2 ms asleep, as a "
            f"server's does (R's working set goes cold in between); per request, the sequential "
            f"client sees "
            + (f"{1e3 / b1.rps:.3f} ms from the bridge and " if b1 else "")
            + f"{1e3 / p1.rps:.3f} ms from Plumber;",
            f"- {f['bulk_rows']:,} rows: {f['bulk_s']:.3f} s (median of "
            f"{len(f['bulk_runs'])}; timed by Sys.time()); end to end, the bridge "
            f"takes {bulk('bridge', 'JSON rows')} (JSON rows) and {bulk('bridge', 'column JSON')} "
            f"(column JSON), Plumber {bulk('plumber', 'JSON rows')} and "
            f"{bulk('plumber', 'column JSON')}.", ""]

    out += ["## How it was measured", "",
            f"1. `wrk -t1 -c1 -d{sizes.seq_seconds:g}s` with `bench/wrk_post.lua`: one connection, "
            f"one request at a time; Plumber both keep-alive (httpuv stalls ~40 ms per request on "
            f"a kept-alive connection, so it is capped at {sizes.stall_seconds:g} s) and a new "
            "connection with `Connection: close` per request (wrk reconnects); its best is in the "
            "table. For information, the same with one Python `http.client` connection (the "
            f"client of runs before 2026-12-04; up to {sizes.seq_requests:,} requests or "
            f"{sizes.seq_seconds:g} s): its own time per request is in both servers' figures.",
            f"2. `wrk -t2 -c32 -d{sizes.wrk_seconds}s --latency` with `bench/wrk_post.lua`; "
            "Plumber keep-alive and `Connection: close` (wrk reconnects); its best by requests/s. "
            "Plumber is single-threaded, and one `pr_run()` process is how Plumber serves a port, "
            "so that is the baseline of the target"
            + (f"; for information, {res.plumber_group['processes']} Plumber processes on "
               f"{res.plumber_group['processes']} ports with the 32 connections split evenly "
               "(what a load balancer in front would give at best, without its cost)"
               if res.plumber_group else "") + ".",
            f"3. The same {sizes.bulk_rows:,}-row body to both, median of {sizes.bulk_runs}, "
            "timed from sending to the last byte of the response; both as JSON rows "
            "`[{\"wt\":..,\"hp\":..,\"cyl\":\"6\"}, ...]` and as column JSON "
            "`{\"data\": {\"wt\": [...], ...}}` (Plumber's app reads both; jsonlite is much "
            "faster on columns). Every response is checked: the sum of the predictions equals "
            "R's own.",
            f"4. On the freshly started bridge: wrk with 8 connections stopping after "
            f"{sizes.mem_first:,} responses, RSS of each worker process (from /proc), then "
            f"until {sizes.mem_total:,}, RSS again. Growth is the largest over the workers.",
            "",
            "Before timing, both servers' predictions for 3 rows are checked against R's "
            "`predict()` (relative tolerance 1e-9).", ""]

    out += ["## Machine", "",
            f"- {info['nproc']} CPUs ({info['usable_cpus']} usable), {info['cpu']}, "
            f"{info['ram_gb']:.1f} GB RAM, Linux {info['kernel']}",
            f"- {f['r_version']}; Python {info['python']}; {info['wrk']}",
            f"- date {info['date']}; bridge at commit {info['commit']}", ""]
    out += ["## Rerun", "",
            "```",
            "make bench                                  # installs wrk + bench/requirements.txt, "
            "full run (~5 min), rewrites the top of bench/RESULTS.md (what is below its mark is kept)",
            ".venv/bin/python -m bench --workers 2       # the same without make",
            ".venv/bin/python -m bench --quick           # ~1.5 min, fewer requests, "
            "writes bench/out/RESULTS-quick.md",
            ".venv/bin/python -m bench profile           # py-spy on a loaded bridge -> bench/out/",
            "```", "",
            "Server logs of the last run are in bench/out/ (gitignored).", ""]
    return "\n".join(out)


def _load(avg):
    return " / ".join(f"{x:.2f}" for x in avg)


def verdict_table(res):
    out = ["| case | Plumber (its best setting) | bridge | speed-up | target | result |",
           "|---|---|---|---|---|---|"]
    for case, p, b, ratio, target, ok in verdict_rows(res):
        r = "—" if ratio is None else f"{ratio:.1f}x"
        out.append(f"| {case} | {p} | {b} | {r} | {target} | {_verdict(ok)} |")
    return out


# What follows this line in a report was written by hand (before/after
# tables, the budget, scaling): a new run replaces only what is above it.
KEPT = "<!-- python -m bench replaces only what is above this line; the sections below are kept -->"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if path.exists():
        old = path.read_text()
        if KEPT in old:
            kept = old[old.index(KEPT) + len(KEPT):]
    path.write_text(text.rstrip("\n") + "\n\n" + KEPT + (kept or "\n"))
    print(f"[bench] wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}",
          file=sys.stderr)

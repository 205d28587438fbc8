"""python -m bench [--workers N] [--quick] | python -m bench profile [...] | python -m bench budget
| python -m bench scaling [...] | python -m bench memory [...]"""

import argparse
import os
import signal
import sys
from pathlib import Path

from .servers import ROOT

OUT = ROOT / "bench" / "out"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description="Benchmark the bridge against Plumber.")
    parser.add_argument("--workers", type=int, default=2, help="bridge workers (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer requests and shorter runs (~1.5 min); writes "
                             "bench/out/RESULTS-quick.md instead of bench/RESULTS.md")
    parser.add_argument("--plumber-processes", type=int, default=None,
                        help="also measure case 2 on this many Plumber processes, for "
                             "information (default: as many as --workers; 1 to skip)")
    parser.add_argument("--model", default=str(ROOT / "r_models" / "mtcars_lm.rds"))
    parser.add_argument("--results", help="where to write the report")
    sub = parser.add_subparsers(dest="command")
    prof = sub.add_parser("profile", help="py-spy on a bridge under load -> bench/out/")
    prof.add_argument("--workers", type=int, default=2)
    prof.add_argument("--load", choices=("single", "bulk"), default="single",
                      help="single: wrk -c32 single-row requests; bulk: 100,000-row requests")
    prof.add_argument("--seconds", type=int, default=15, help="seconds sampled per output")
    prof.add_argument("--rate", type=int, default=100,
                      help="samples per second (py-spy falls behind on a loaded machine)")
    prof.add_argument("--native", action="store_true",
                      help="also unwind C frames (R, rpy2's C code; slower, may fail)")
    bud = sub.add_parser("budget", help="where one request's time goes, stage by stage "
                                           "-> bench/out/budget.md and budget.json")
    bud.add_argument("--requests", type=int, default=1200, help="single-row requests timed")
    bud.add_argument("--bulk-runs", type=int, default=5, help="100,000-row requests timed")
    scale = sub.add_parser("scaling", help="req/s, p50/p99 and CPU per process over --workers x "
                                           "--threads x connections, beside waitress's hello "
                                           "world and Plumber -> bench/out/scaling.md")
    scale.add_argument("--workers", dest="scale_workers", type=_ints, default=None,
                       help="worker counts, comma-separated (default 1,2,3)")
    scale.add_argument("--threads", type=_ints, default=None,
                       help="front thread counts (default 4,16,64)")
    scale.add_argument("--connections", type=_ints, default=None,
                       help="wrk connection counts (default 1,8,32)")
    scale.add_argument("--seconds", type=int, default=None, help="seconds per wrk run (default 6)")
    scale.add_argument("--quick", action="store_true", help="fewer points, 3 s runs (~2 min)")
    mem = sub.add_parser("memory", help="RSS of the front and each R worker serving 1, 20, 100 "
                                        "generated models -> bench/out/memory.md")
    mem.add_argument("--counts", type=_ints, default=(1, 20, 100),
                     help="model counts, comma-separated (default 1,20,100)")
    mem.add_argument("--workers", dest="mem_workers", type=int, default=2,
                     help="R workers (default 2)")
    mem.add_argument("--rows", type=int, default=0,
                     help="train each model on this many rows (larger models; default: "
                          "the data sets as they are, 32-150 rows)")
    args = parser.parse_args(argv)

    # A SIGTERM unwinds like Ctrl-C, so the finally blocks stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.command == "profile":
            from .profile import profile

            return profile(args.model, OUT, workers=args.workers, load=args.load,
                           seconds=args.seconds, rate=args.rate, native=args.native)
        if args.command == "budget":
            return budget(args)
        if args.command == "scaling":
            return scaling(args)
        if args.command == "memory":
            return memory(args)
        return bench(args)
    except KeyboardInterrupt:
        print("[bench] interrupted; every server it started is stopped", file=sys.stderr)
        return 130


def bench(args):
    from . import report, run

    info = report.machine()
    sizes = run.QUICK if args.quick else run.FULL
    procs = args.plumber_processes if args.plumber_processes is not None else args.workers
    results = run.run(args.model, Path(args.model).parent, OUT, workers=args.workers,
                      sizes=sizes, plumber_processes=procs)
    info["load_end"] = os.getloadavg()
    text = report.markdown(results, info)
    from .logging_cost import measure, report as logging_report

    say = logging_report(measure(args.model, seconds=5 if args.quick else 15,
                                 workers=args.workers, out=OUT / "logging"))
    print(say)
    text += f"\n## The prediction log's cost (bench/logging_cost.py)\n\n{say}\n"
    print("\n".join(report.verdict_table(results)))
    default = OUT / "RESULTS-quick.md" if args.quick else ROOT / "bench" / "RESULTS.md"
    report.write(Path(args.results) if args.results else default, text)
    return 0


def budget(args):
    import json

    from .budget import run as budget_run

    result = budget_run.run(args.model, single=args.requests, bulk_runs=args.bulk_runs,
                            out_dir=OUT / "budget")
    text = budget_run.table(result)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "budget.md").write_text(text)
    (OUT / "budget.json").write_text(json.dumps(result, indent=1))
    print(text)
    return 0


def _ints(text):
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}")


def scaling(args):
    import dataclasses

    from . import scaling as scale

    plan = scale.QUICK if args.quick else scale.Plan()
    chosen = {"workers": args.scale_workers, "threads": args.threads,
              "connections": args.connections, "seconds": args.seconds}
    plan = dataclasses.replace(plan, **{k: v for k, v in chosen.items() if v})
    start = os.getloadavg()
    points = scale.run(args.model, Path(args.model).parent, OUT / "scaling", plan)
    text = scale.write(points, OUT)
    print(f"load average at the start {start[0]:.2f} / {start[1]:.2f} / {start[2]:.2f}\n")
    print(text)
    return 0


def memory(args):
    from . import memory as mem

    points = mem.run(args.counts, workers=args.mem_workers, out_dir=OUT / "memory",
                     rows=args.rows)
    name = f"memory-{args.rows}rows" if args.rows else "memory"
    text = mem.write(points, OUT, name)
    print(text)
    return 0

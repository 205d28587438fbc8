"""How big the prediction log gets (docs/monitoring.md): bytes on disk per
million rows for a typical model (mtcars_lm: 3 inputs, 1 output), measured by
writing 200,000 rows through the real writer (bridge/monitoring/log.py) and
scaling, as single-row calls and as 100-row calls.
`python -m bench.logsize [--rows 200000]`.

`python -m bench.logsize --monitor [--models 20] [--window 10000]`: what the
live drift window (bridge/monitoring/drift.py) costs the front: the process's
RSS before and after a Monitor, fed directly, holds a full window of
single-row calls of this model for each of `--models` models, and what one
report and one refresh of every window's PSI gauges take."""

import argparse
import gc
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from bridge.convert import prepare_column
from bridge.monitoring.log import PredictionLog
from bridge.prediction import Prediction
from bridge.schema import Column
from bridge.service import Answer, Context, Event
from bridge.table import Request

COLUMNS = (Column("wt", "numeric"), Column("hp", "numeric"),
           Column("cyl", "factor", levels=("4", "6", "8")))


def _event(rng, n):
    wt = np.round(rng.normal(3.2, 1.0, n), 3).tolist()
    hp = rng.integers(50, 335, n).astype(float).tolist()
    cyl = rng.choice(["4", "6", "8"], n).tolist()
    prepared = [prepare_column(c, v) for c, v in zip(COLUMNS, (wt, hp, cyl))]
    prediction = Prediction("vector", {"prediction": rng.normal(20, 6, n).tolist()}, {}, [])
    context = Context("json", "/models/{name}/predict", request_id=uuid.uuid4().hex,
                      traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")
    answer = Answer("mtcars_lm", "1.0.0", prediction, 5.0)
    return Event(context, "mtcars_lm", "1.0.0", 200, float(rng.uniform(2, 20)),
                 Request(prepared, n, {}, ()), None, answer=answer)


def measure(rows=200_000, per_call=1):
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory(prefix="bench-logsize-") as tmp:
        writer = PredictionLog(tmp, rotate_seconds=1e9)
        seconds, calls = 0.0, rows // per_call
        for start in range(0, calls, 10_000):  # events made in blocks; only the writer is timed
            events = [_event(rng, per_call) for _ in range(min(10_000, calls - start))]
            started = time.perf_counter()
            for event in events:
                writer.observe(event)
            seconds += time.perf_counter() - started
        started = time.perf_counter()
        writer.close()
        seconds += time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet"))
        files = len(list(Path(tmp).rglob("*.parquet")))
    return {"rows": rows, "per_call": per_call, "bytes": size, "files": files,
            "bytes_per_million": size * 1_000_000 / rows, "rows_per_second": rows / seconds}


def _rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class _Served:
    def __init__(self, name, reference):
        from bridge.schema import Schema

        self.name, self.version = name, "1.0.0"
        self.schema = Schema(COLUMNS, "ptype")
        self.reference = reference


def monitor_memory(models=20, window=10_000):
    """RSS (MiB) of this process before and after `models` windows of
    `window` single-row calls each, and the Monitor's own count of what it
    holds; times are this thread's CPU time (other processes on a shared
    machine move them less than the wall clock)."""
    from bridge.monitoring import summary
    from bridge.monitoring.drift import Monitor
    from bridge.service import LocalCatalog

    rng = np.random.default_rng(2)
    reference = {"source": "bench", "columns": {
        "wt": summary.summarize("numeric", rng.normal(3.2, 1.0, 5000)),
        "hp": summary.summarize("numeric", rng.integers(50, 335, 5000).astype(float)),
        "cyl": summary.summarize("factor", list(rng.choice(["4", "6", "8"], 5000)))}}
    names = [f"model_{i:02d}" for i in range(models)]
    monitor = Monitor(LocalCatalog([_Served(n, reference) for n in names]), max_rows=window,
                      max_seconds=1e9)
    gc.collect()
    before = _rss_mib()
    observing = 0.0
    for name in names:
        for _ in range(window):
            event = _event(rng, 1)
            event.model = event.answer.model = name
            started = time.thread_time()
            monitor.observe(event)
            observing += time.thread_time() - started
    del event
    gc.collect()
    after = _rss_mib()
    started = time.thread_time()
    report = monitor.report_version(names[0], "1.0.0")
    seconds = time.thread_time() - started
    assert report["rows"] == window, report["rows"]
    started = time.thread_time()
    monitor.tick()  # every window's report, for the PSI gauges (every 5 s on the monitor thread)
    tick = time.thread_time() - started
    return {"models": models, "window": window, "before_mib": before, "after_mib": after,
            "per_window_mib": (after - before) / models, "report_seconds": seconds,
            "observe_us": observing / (models * window) * 1e6, "tick_seconds": tick,
            "held_mib": monitor.nbytes() / 2**20 if hasattr(monitor, "nbytes") else None}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.logsize")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--monitor", action="store_true",
                        help="measure the live drift window's memory instead")
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--window", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.monitor:
        r = monitor_memory(args.models, args.window)
        print(f"live window: {r['models']} models x {r['window']:,} single-row calls: RSS "
              f"{r['before_mib']:.1f} -> {r['after_mib']:.1f} MiB = "
              f"{r['per_window_mib']:.2f} MiB per model version; one report "
              f"{r['report_seconds'] * 1000:.0f} ms, a gauge refresh of all {r['tick_seconds']:.2f} s; "
              f"observe {r['observe_us']:.1f} us a call (CPU)"
              + (f"; buffers {r['held_mib']:.1f} MiB" if r["held_mib"] is not None else ""))
        return 0
    for per_call in (1, 100):
        r = measure(args.rows, per_call)
        print(f"{per_call:>3}-row calls: {r['rows']:,} rows -> {r['bytes']:,} bytes in "
              f"{r['files']} file(s) = {r['bytes_per_million'] / 2**20:.1f} MiB per million rows; "
              f"writer {r['rows_per_second']:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the prediction log costs (docs/monitoring.md): requests/s of single-row
predictions at 32 connections (wrk), the bridge without and with
--log-predictions at sample 1.0, on the same model and machine, one after
the other. Also checks that every answered request reached the log (or was
counted as dropped). `python -m bench.logging_cost [--seconds 10]`."""

import argparse
import re
import sys
import tempfile
import urllib.request
from pathlib import Path

from . import servers
from .load import wrk
from .workload import Workload

ROOT = Path(__file__).resolve().parent.parent


def measure(model=ROOT / "r_models" / "mtcars_lm.rds", seconds=10, workers=2, out=None):
    """{"off": req/s, "on": req/s, "logged_rows": n, "dropped": n}."""
    body = Workload.make(10).single
    out = Path(out or tempfile.mkdtemp(prefix="bench-logging-"))
    result = {}
    for mode in ("off", "on"):
        server = servers.bridge(Path(model).parent, out / mode, workers, Path(model).stem)
        log_dir = out / mode / "predictions"
        if mode == "on":
            server.argv += ["--log-predictions", str(log_dir)]
        server.argv += ["--reload-interval", "0"]
        with server.start(body):
            wrk(server.url, body, duration=2)  # warm up
            run = wrk(server.url, body, connections=32, duration=seconds)
            result[mode] = run.rps
            if mode == "on":
                metrics = urllib.request.urlopen(
                    f"http://{servers.HOST}:{server.port}/metrics", timeout=10).read().decode()
                match = re.search(r"^bridge_prediction_log_dropped_total (\S+)$", metrics, re.M)
                result["dropped"] = float(match.group(1)) if match else None
        if mode == "on":
            import pandas as pd

            result["logged_rows"] = len(pd.read_parquet(log_dir))  # after SIGTERM's drain
    result["cost"] = 1 - result["on"] / result["off"]
    return result


def report(result):
    return (f"prediction log at sample 1.0, 32 connections, single-row requests: "
            f"{result['off']:.0f} req/s without, {result['on']:.0f} req/s with "
            f"({result['cost']:+.1%} cost); {result['logged_rows']} rows logged, "
            f"{result['dropped']:.0f} dropped")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.logging_cost")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(report(measure(seconds=args.seconds, workers=args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How big the prediction log gets (docs/monitoring.md): bytes on disk per
million rows for a typical model (mtcars_lm: 3 inputs, 1 output), measured by
writing 200,000 rows through the real writer (bridge/monitoring/log.py) and
scaling, as single-row calls and as 100-row calls.
`python -m bench.logsize [--rows 200000]`."""

import argparse
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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.logsize")
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    for per_call in (1, 100):
        r = measure(args.rows, per_call)
        print(f"{per_call:>3}-row calls: {r['rows']:,} rows -> {r['bytes']:,} bytes in "
              f"{r['files']} file(s) = {r['bytes_per_million'] / 2**20:.1f} MiB per million rows; "
              f"writer {r['rows_per_second']:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

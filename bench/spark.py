"""bridge.spark against `bridge predict` on one machine: rows/s for the
bench model (r_models/mtcars_lm.rds) over one Parquet file of N rows, and
what the Arrow <-> R crossing costs per row.

    python -m bench.spark [--rows 1000000] [--model r_models/mtcars_lm.rds]

Measured, each once:
  R alone     predict() on the N rows inside one Rscript (no bridge): R's own floor
  predict     `python -m bridge predict MODEL in.parquet -o out.parquet` (one process, one R)
  local[1]    bridge.spark.predict(...) written to Spark's "noop" sink, one core: the
              first job (its probe, every worker's R start and model load, which a
              user pays once per session) and a second one on the same session
  local[2]    the same on two cores
The crossing per row is the warm local[1] time per row minus R alone's:
Spark's scan, Arrow batch -> pandas -> the bridge's checks and encoding ->
the R worker's pipe -> R vectors, and the answer back.
Prints a Markdown table (docs/spark.md quotes one).
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_input(path, n):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .workload import Workload

    rows = Workload.make(min(n, 100_000)).rows
    reps = -(-n // len(rows))
    cols = {name: ([r[name] for r in rows] * reps)[:n] for name in ("wt", "hp", "cyl")}
    pq.write_table(pa.table(cols), path, row_group_size=100_000)


def r_alone(model, parquet_csv):
    code = (f'm <- readRDS("{model}"); d <- read.csv("{parquet_csv}", colClasses = c(cyl = "character")); '
            'd$cyl <- factor(d$cyl, levels = levels(m$model$cyl)); '
            't <- system.time(p <- predict(m, newdata = d))[["elapsed"]]; cat(t)')
    done = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().split()[-1])


def cli(model, src, out):
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bridge", "predict", str(model), str(src), "-o", str(out), "-q"],
                   check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                   capture_output=True)
    return time.perf_counter() - started


def spark_run(master, model, src):
    """Seconds for the job on `master`, in a fresh driver (its own JVM),
    after a warm-up job that starts the JVM and Python workers."""
    script = f"""
import sys, time, warnings
warnings.filterwarnings("ignore")
from bridge.spark import local_session, predict
spark = local_session({master!r}, conf={{"spark.ui.enabled": "false"}})
spark.range(100).selectExpr("id * 2").collect()
df = spark.read.parquet({str(src)!r})
times = []
for _ in range(2):
    started = time.perf_counter()
    predict(df, {str(model)!r}).write.format("noop").mode("overwrite").save()
    times.append(time.perf_counter() - started)
print(*times)
spark.stop()
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    cold, warm = map(float, done.stdout.strip().splitlines()[-1].split())
    return cold, warm


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model", default=str(ROOT / "r_models" / "mtcars_lm.rds"))
    opts = parser.parse_args(argv)
    n = opts.rows
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        src = Path(tmp) / "rows.parquet"
        write_input(src, n)
        import pyarrow.parquet as pq

        pq.read_table(src).to_pandas().to_csv(Path(tmp) / "rows.csv", index=False)
        results = [("R alone (predict() in Rscript)", r_alone(opts.model, Path(tmp) / "rows.csv"))]
        results.append(("bridge predict (one process)", cli(opts.model, src, Path(tmp) / "out.parquet")))
        for master in ("local[1]", "local[2]"):
            cold, warm = spark_run(master, opts.model, src)
            results.append((f"bridge.spark {master}, first job (probe, R starts, model loads)", cold))
            results.append((f"bridge.spark {master}, second job (workers warm)", warm))
    print(f"{n:,} rows of {Path(opts.model).name}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| run | seconds | rows/s |\n| --- | ---: | ---: |")
    for name, seconds in results:
        print(f"| {name} | {seconds:.1f} | {n / seconds:,.0f} |")
    crossing = (dict(results)["bridge.spark local[1], second job (workers warm)"] - results[0][1]) / n * 1e6
    print(f"\nArrow <-> R crossing (warm local[1] minus R alone, per row): {crossing:.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m bridge predict --spark [--master local[*]] MODEL INPUT -o OUTPUT`:
a Parquet or CSV file (or folder of them) scored on Spark, written as
partitioned Parquet (driver side). Progress is Spark's own: its UI (port
4040) and log.

CSV is read as text and each column parsed by the model's own types, as
the HTTP endpoint reads a CSV body; Parquet keeps its types.
"""

import sys
from pathlib import Path

from ..scoring.files import ScoringError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def input_format(path):
    path = Path(path)
    if path.is_dir():
        found = {FORMATS[p.suffix.lower()] for p in path.iterdir() if p.suffix.lower() in FORMATS}
        if len(found) != 1:
            raise ScoringError(f"{path}: a folder of Parquet or of CSV files, not "
                               f"{', '.join(sorted(found)) or 'neither'}")
        return found.pop()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ScoringError(f"{path}: --spark reads Parquet or CSV (.parquet, .pq, .csv) files or folders")
    return fmt


def main(options, args):
    """Runs the job; returns the exit status."""
    from . import local_session, predict

    if options.url or str(options.model).startswith(("http://", "https://")):
        raise ScoringError("--spark scores a model file in the executors' R, not a served model")
    if options.on_error == "skip" or options.reject_file or options.resume:
        raise ScoringError("--spark takes --on-error stop or reject (a _bridge_error column); "
                           "not skip, --reject-file or --resume")
    if not options.output:
        raise ScoringError("--spark needs -o OUTPUT (a folder of Parquet files)")
    if Path(options.output).exists():
        raise ScoringError(f"{options.output} exists; Spark writes a new folder")
    fmt = input_format(options.input)
    spark = local_session(options.master) if options.master.startswith("local") else _session(options.master)
    try:
        reader = spark.read
        df = reader.parquet(options.input) if fmt == "parquet" else reader.option("header", "true").csv(options.input)
        out = predict(df, options.model, args=args, on_error=options.on_error, object=options.object,
                      text=fmt == "csv")
        out.write.parquet(options.output)
        rows = spark.read.parquet(options.output).count()
    finally:
        spark.stop()
    print(f"wrote {rows:,} rows to {options.output}/ (Parquet)", file=sys.stderr)
    return 0


def _session(master):
    from pyspark.sql import SparkSession

    return SparkSession.builder.master(master).appName("r-bridge predict").getOrCreate()

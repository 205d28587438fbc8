"""Batch scoring: a file of rows in, the same rows with R's predictions out.

    python -m bridge predict MODEL INPUT -o OUTPUT [--arg type=response]

MODEL is a model file (scored in this process's own R) or a served model,
`http://host:port/models/NAME` (or `--url URL NAME`). INPUT is CSV, JSON
(lines, or one array of row objects) or Parquet; OUTPUT's extension picks its
format (.csv, .json, .jsonl, .parquet), by default INPUT's.

The file is read, scored and written chunk by chunk (10,000 rows by default),
so memory stays flat however large the file. The output is written under
OUTPUT.partial and renamed when every row is done: a file under OUTPUT's
name is complete. A row that does not fit the model stops the run
(`--on-error stop`), or is skipped, or rejected into `--reject-file` with
its row number and reason; `--resume` continues a run that stopped, from
the checkpoint written after each chunk. CSV is read as text and each
column parsed by the model's own type rules, exactly as the HTTP endpoint
reads a CSV body; CSV output keeps the input text and appends the
prediction column(s), written as the endpoint's `Accept: text/csv` does.
"""

import os
import sys
from pathlib import Path

from ..formats.csv_text import query_args
from .files import ScoringError
from .run import partial_paths, run
from .scorers import scorer_for
from .tolerant import ON_ERROR


def main(options):
    """The `python -m bridge predict` command; options from cli.py."""
    import logging
    import warnings

    from ..client import BridgeClientError
    from ..errors import BridgeError

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="R is not initialized by the main thread")
    output = None
    try:
        args = query_args({k: v for k, v in (split_arg(a) for a in options.arg or [])})
        if getattr(options, "spark", False):
            from ..spark.command import main as spark_main

            return spark_main(options, args)
        output = options.output or _default_output(options.input)
        scorer = scorer_for(options.model, url=options.url, object_name=options.object,
                            api_key=options.api_key or os.environ.get("BRIDGE_API_KEY"),
                            version=options.version)
        summary = run(scorer, options.input, output, options.chunk_size, args,
                      progress=False if options.quiet else None, on_error=options.on_error,
                      reject_path=options.reject_file, resume=options.resume)
    except KeyboardInterrupt:
        print(f"interrupted; {output} is not written. `--resume` continues where it stopped",
              file=sys.stderr)
        return 130
    except (ScoringError, BridgeError, BridgeClientError, OSError) as exc:
        print(f"error: {getattr(exc, 'description', None) or exc}", file=sys.stderr)
        if output and partial_paths(output)[1].exists():
            print(f"{output} is not written. --on-error skip or reject sets such rows aside; "
                  "--resume continues a run the same input stopped (a lost server, Ctrl-C)",
                  file=sys.stderr)
        return 1
    print(f"wrote {summary.rows:,} {'row' if summary.rows == 1 else 'rows'} to {output}", file=sys.stderr)
    if summary.rejected:
        where = f" to {options.reject_file}" if options.reject_file else ""
        verb = "rejected" if options.reject_file else "skipped"
        rows = "row" if summary.rejected == 1 else "rows"
        print(f"{verb} {summary.rejected:,} {rows}{where} (first: {summary.first_reason})",
              file=sys.stderr)
    return 0


def split_arg(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ScoringError(f"--arg {text!r}: expected NAME=VALUE, e.g. --arg type=response")
    return name, value


def _default_output(input_path):
    path = Path(input_path)
    return str(path.with_name(path.stem + ".predictions" + path.suffix))


def add_parser(sub):
    p = sub.add_parser("predict", help="score a CSV, JSON or Parquet file with a model",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("model", help="a model file, or http://host:port/models/NAME, or NAME with --url")
    p.add_argument("input", help="rows to score: .csv, .json, .jsonl or .parquet")
    p.add_argument("-o", "--output", help="where to write (default INPUT.predictions.EXT); "
                                          "its extension picks the format")
    p.add_argument("--url", help="a running bridge, e.g. http://127.0.0.1:8080 (MODEL is then a name)")
    p.add_argument("--api-key", dest="api_key", help="sent as a Bearer token (BRIDGE_API_KEY)")
    p.add_argument("--object", help="which model object of an .rda holding several")
    p.add_argument("--version", help="a version or alias of a served versioned model "
                   "(docs/versions.md); default: the server routes")
    p.add_argument("--arg", action="append", metavar="NAME=VALUE",
                   help="an argument to R's predict(), e.g. --arg type=response (repeatable)")
    p.add_argument("--chunk-size", dest="chunk_size", type=int, default=10_000,
                   help="rows per chunk (default 10000)")
    p.add_argument("--on-error", dest="on_error", choices=ON_ERROR, default="stop",
                   help="a row that does not fit the model or fails in R: stop the run (default), "
                        "skip it, or reject it into --reject-file")
    p.add_argument("--reject-file", dest="reject_file", metavar="FILE",
                   help="with --on-error reject: the rows set aside, numbered as in the input, "
                        "with the reason (its extension picks the format)")
    p.add_argument("--resume", action="store_true",
                   help="continue a run that stopped (error, Ctrl-C, crash) from its last checkpoint")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--spark", action="store_true",
                   help="score on Apache Spark (bridge.spark): INPUT a Parquet/CSV file or folder, "
                        "OUTPUT a folder of Parquet files (docs/spark.md)")
    p.add_argument("--master", default="local[*]",
                   help="with --spark: Spark's master URL (default local[*])")
    return p

"""The `python -m bridge forecast` command: a forecaster's horizon to a file.

    python -m bridge forecast MODEL --h 12 [--level 80 --level 95] [--xreg future.csv] -o out.csv

MODEL is a model file (forecast in this process's own R) or a served model,
`http://host:port/models/NAME` (or `--url URL NAME`), as for `bridge predict`.
`--xreg` is a CSV or JSON file of the regressors' future values, one row per
step. OUTPUT is .csv (default: standard output) or .json.
"""

import json
import os
import sys
from pathlib import Path

from .scoring.command import split_arg
from .scoring.files import ScoringError
from .scoring.scorers import scorer_for
from .formats.csv_text import query_args
from .formats.shapes import columns_to_records, pandas_columns
from .render import columns_csv


def add_parser(sub):
    p = sub.add_parser("forecast", help="forecast a horizon with a forecaster (ARIMA, ets, ...)",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("model", help="a model file, or http://host:port/models/NAME, or NAME with --url")
    p.add_argument("--h", type=int, help="steps to forecast (default: R's default, or the xreg rows)")
    p.add_argument("--level", type=float, action="append",
                   help="an interval level in percent; repeatable (default: the model's, 80 and 95)")
    p.add_argument("--xreg", help="future regressor values: a .csv or .json file, one row per step")
    p.add_argument("--seed", type=int, help="seed for simulated intervals (nnetar, bootstrap)")
    p.add_argument("--arg", action="append", metavar="NAME=VALUE",
                   help="an argument to R's forecast(), e.g. --arg bootstrap=true (repeatable)")
    p.add_argument("-o", "--output", help="where to write: .csv or .json (default: CSV on stdout)")
    p.add_argument("--url", help="a running bridge, e.g. http://127.0.0.1:8080 (MODEL is then a name)")
    p.add_argument("--api-key", dest="api_key", help="sent as a Bearer token (BRIDGE_API_KEY)")
    p.add_argument("--object", help="which model object of an .rda holding several")
    return p


def main(options):
    import logging
    import warnings

    from .client import BridgeClientError
    from .errors import BridgeError

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="R is not initialized by the main thread")
    try:
        args = query_args(dict(split_arg(a) for a in options.arg or []))
        doc = {"h": options.h, "level": options.level, "seed": options.seed, "args": args,
               "xreg": read_xreg(options.xreg) if options.xreg else None}
        columns = run(options, doc)
        write(columns, options.output)
    except (ScoringError, BridgeError, BridgeClientError, OSError, ValueError) as exc:
        print(f"error: {getattr(exc, 'description', None) or exc}", file=sys.stderr)
        return 1
    if options.output:
        print(f"wrote {len(columns.get('step', []))} steps to {options.output}", file=sys.stderr)
    return 0


def run(options, doc):
    """The forecast as columns, from a served model or a model file."""
    scorer = scorer_for(options.model, url=options.url, object_name=options.object,
                        api_key=options.api_key or os.environ.get("BRIDGE_API_KEY"))
    if hasattr(scorer, "client"):
        frame = scorer.client.forecast(scorer.name, **{k: v for k, v in doc.items() if k != "args"},
                                       **doc["args"])
        return {str(c): frame[c].tolist() for c in frame.columns}
    from .service import Context

    model = scorer.model
    if model.kind != "forecaster":
        raise ScoringError(f"{options.model}: not a forecaster (R class {', '.join(model.r_class)}); "
                           "use `python -m bridge predict`")
    # Through the same service as a server's calls (checks, observers); no
    # server's per-request timeout here: a forecast takes what R needs.
    answer = scorer.service.forecast(model.name, doc, Context("cli", "bridge forecast"))
    return answer.result.columns


def read_xreg(path):
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return pandas_columns(pd.read_csv(path))
    if suffix == ".json":
        return json.loads(Path(path).read_text(encoding="utf-8"))
    raise ScoringError(f"{path}: --xreg takes a .csv or .json file")


def write(columns, output):
    if output and Path(output).suffix.lower() == ".json":
        rows = columns_to_records(columns)
        Path(output).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        return
    text = columns_csv(columns).decode("utf-8")
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)

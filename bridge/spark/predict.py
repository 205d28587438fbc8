"""`bridge.spark.predict`: a PySpark DataFrame scored by an R model, on
the driver (no R here: the probe runs in a subprocess, and R in one
supervised R worker process beside each executor Python worker,
bridge/spark/executor.py).

Column names with dots (`Sepal.Length`, common in R data) break Spark's
column resolution inside mapInPandas (it looks each column up by name,
unquoted), so the job runs on positional names (`_bridge_in0`, ...) and the
result is renamed back: R's names come back exactly as R gave them.
"""

import functools

from ..errors import InputError
from ..table import Table, prepare_table
from . import executor
from .models import resolve
from .plan import ERROR_COLUMN, job_schema
from .probe import probe

ON_ERROR = ("stop", "reject")


def predict(df, model, *, version=None, args=None, on_error="stop", columns=None, models=None,
            key=None, object=None, text=False, sha256=None):
    """`df` plus one column per prediction output.

    model: a model file (.rds/.rda), a folder of versions (the highest
      whole-number sub-folder, or `version=`), or with `models=` a name in
      that models folder.
    args: predict() arguments, checked against the model's allow-list as
      HTTP checks them (`{"type": "response"}`).
    on_error: "stop" fails the task at the first row that does not fit (its
      message is HTTP's, with the row: its `key` columns' values or its
      place); "reject" adds `_bridge_error` (null for good rows, HTTP's
      message otherwise) and never fails the job for a row.
    columns: the input columns to keep beside the predictions (default all).
    key: column name(s) that identify a row in a stopped task's message.
    text: the columns are text to parse by the model's own types (a CSV read
      without a schema), as HTTP reads a CSV body.
    sha256: the digest the model file must have (default: its bridge.lock's
      when its folder has one, else the digest of the bytes read now); the
      probe and every executor refuse other bytes before R reads them.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    names = list(df.columns)
    keep = names if columns is None else _columns(columns, names, "columns")
    key = _columns([key] if isinstance(key, str) else (key or []), names, "key")
    bundle = resolve(model, models, version, object, sha256)
    plan = probe(bundle, ("predict", dict(args or {})))
    # What HTTP refuses for the whole request is refused now, before a task runs.
    prepare_table(plan.schema, Table({n: [] for n in names}, 0))
    _refuse_clashes(keep, plan.output_names + [ERROR_COLUMN])
    return run(df, bundle, plan, dict(args or {}), on_error, keep, key, text)


def run(df, bundle, plan, args, on_error, keep, key, text=False):
    """The job for a resolved bundle and its plan: what the executors do."""
    names = list(df.columns)
    out_names = keep + plan.output_names + ([ERROR_COLUMN] if on_error == "reject" else [])
    schema = job_schema(df, keep, plan, on_error)
    shipped = df.sparkSession.sparkContext.broadcast(bundle)
    job = functools.partial(executor.predict_batches, shipped=shipped, plan=plan, args=args,
                            on_error=on_error, names=names, keep=[names.index(c) for c in keep],
                            key=key, text=text)
    safe = df.toDF(*(f"_bridge_in{i}" for i in range(len(names))))
    return safe.mapInPandas(job, schema).toDF(*out_names)


def _columns(wanted, names, what):
    wanted = list(wanted)
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InputError(f"{what}: no column {missing[0]!r} in the DataFrame", column=missing[0])
    return wanted


def _refuse_clashes(keep, outputs):
    clash = [c for c in keep if c in outputs]
    if clash:
        raise InputError(f"the DataFrame already has a column {clash[0]!r}, which the prediction "
                         "adds; rename it, or leave it out with columns=", column=clash[0])


"""The executor side: runs inside each Spark Python worker (the process
PySpark's daemon forks for a task), never in the driver.

R does not run in the Python worker itself: on the first batch a worker
sees, it starts one supervised R worker process of its own (the server's
pool, bridge/workers/pool.py, with one worker), so the forking daemon and
its Python workers never hold an R, and an R that dies (a segfault, an
abort() in a package) is replaced by the pool while the batch it was
running is tried again here (RETRIES); Spark's task retry does the rest.
The bundle's digests are checked before R reads the model, and the loaded
model is kept for the Python worker's life, keyed by those digests, so the
batches and tasks a reused worker runs load it once. Each Arrow batch goes
through the same Service as an HTTP request: the model's schema, factor
levels, dates, did-you-mean, the argument allow-list, and one prediction
per row.
"""

import atexit
import collections
import logging
import os
import shutil

from ..errors import BridgeError, ModelError, ModelLoadError, WorkerCrashed
from ..scoring.tolerant import _is_row_error, score_tolerantly
from .plan import ERROR_COLUMN, typed

log = logging.getLogger(__name__)

_models = {}  # Bundle.key -> (ServedModel, Service), for this worker process's life
loads = collections.Counter()    # Bundle.key -> times loaded in this process (tests read it)
scored = collections.Counter()  # Bundle.key -> batches scored in this process
_pool = None

# A batch whose R worker died is tried again this many times (in a new R
# worker) before the task fails and Spark's own retry takes over.
RETRIES = 2
# A batch may take this long in R before its worker is killed (504 over HTTP).
BATCH_TIMEOUT = float(os.environ.get("BRIDGE_SPARK_BATCH_TIMEOUT", 3600))


def pool():
    """This Python worker's R worker process, started on first use."""
    global _pool
    if _pool is None:
        from ..settings import Settings
        from ..workers.pool import Pool

        settings = Settings.from_env(workers=1, predict_timeout=BATCH_TIMEOUT)
        _pool = Pool(settings).start()
        atexit.register(_pool.stop)
    return _pool


def served(bundle, key=None):
    """This worker's model for a bundle, loaded on first use (`key`: the
    bundle's, if already computed)."""
    key = key or bundle.key
    entry = _models.get(key)
    if entry is None:
        from ..service import LocalCatalog, Service
        from ..workers.remote import ServedModel

        path = bundle.unpack()  # raises before R reads a byte if a digest differs
        atexit.register(shutil.rmtree, path.parent, True)
        workers = pool()
        view = _one(workers.load(str(path.parent), path), bundle)
        model = ServedModel(workers, str(path.parent), path, view, BATCH_TIMEOUT)
        entry = _models[key] = (model, Service(LocalCatalog([model]), workers=workers))
        loads[key] += 1
        log.info("bridge.spark: loaded %s (sha256 %s) in this worker", model.name, bundle.sha256)
    return entry


def _one(view, bundle):
    """The view of the bundle's model among those its file serves."""
    models = list(view["models"].values())
    if bundle.object is not None:
        models = [m for m in models if m["summary"]["object"] == bundle.object]
    if len(models) != 1:
        which = f"no model object named {bundle.object!r}" if bundle.object is not None else \
            f"several models ({', '.join(view['models'])}); pick one with object="
        raise ModelLoadError(f"{bundle.filename} holds {which}")
    return models[0]


def retried(call, *args):
    """call(*args), again in a fresh R worker when R died under it."""
    for attempt in range(RETRIES + 1):
        try:
            return call(*args)
        except WorkerCrashed as exc:
            if attempt == RETRIES:
                raise
            log.warning("bridge.spark: %s; trying the batch again (%d of %d)", exc.description,
                        attempt + 1, RETRIES)


class _Chunk:
    """A batch as bridge/scoring/tolerant.py reads a chunk. `text`: every
    value is text to parse by the model's types (CSV; null is empty)."""

    def __init__(self, frame, text=False):
        self.frame, self.text = frame, text

    def subset(self, positions):
        return _Chunk(self.frame.iloc[positions], self.text)

    def table(self):
        from ..table import Table

        table = Table.from_pandas(self.frame)
        if self.text:
            table.columns = {k: ["" if v is None else str(v) for v in vs] for k, vs in table.columns.items()}
            table.text = True
        return table


class _Scorer:
    def __init__(self, service, name):
        self.service, self.name = service, name

    def score(self, chunk, args):
        from ..service import Context

        return retried(self.service.predict, self.name, chunk.table(), args,
                       Context("spark")).result.columns


def where(frame, position, key, what="row"):
    """Names a row (or a series) for a stopped task: its key columns'
    values, else its place."""
    from pyspark import TaskContext

    task = TaskContext.get()
    part = f"partition {task.partitionId()}" if task is not None else "this partition"
    if key:
        values = ", ".join(f"{k}={_plain(frame[k].iloc[position])!r}" for k in key)
        return f"the {what} with {values} ({part})"
    return f"row {position + 1} of a {len(frame)}-row batch of {part} (pass key= to name rows by a column)"


def _plain(value):
    """numpy's scalars as Python's, so a key reads 17, not np.int64(17)."""
    return value.item() if hasattr(value, "item") else value


def stopped(exc, frame, position, key, what="row"):
    """The row's error, as HTTP words it, with the row it came from."""
    out = type(exc).__new__(type(exc))
    BridgeError.__init__(out, f"{exc.description} [bridge.spark: {where(frame, position, key, what)}]",
                         **exc.details)
    return out


def predict_batches(batches, shipped, plan, args, on_error, names, keep, key, text=False):
    """mapInPandas: batches whose columns carry safe names (bridge/spark/
    predict.py) -> the kept columns, the predictions and (reject) the error."""
    bundle = shipped.value
    cache_key = bundle.key
    model, service = served(bundle, cache_key)
    scorer = _Scorer(service, plan.name)
    for batch in batches:
        scored[cache_key] += 1
        frame = batch.set_axis(names, axis=1)
        columns, errors = _score(scorer, frame, args, on_error, key, text)
        yield _output(batch, frame, keep, plan, columns, errors, on_error)


def _score(scorer, frame, args, on_error, key, text=False):
    """(prediction columns, {position: message}) for one batch."""
    chunk = _Chunk(frame, text)
    if len(frame) == 0:
        return {}, {}
    try:
        return scorer.score(chunk, args), {}
    except Exception as exc:  # noqa: BLE001 -- only a row's error is set aside; others fail the task
        if not _is_row_error(exc):
            raise
    kept, columns, rejected = score_tolerantly(scorer, chunk, args)
    # Each bad row's message is the one HTTP gives for that row sent alone.
    errors = {}
    for position, reason in rejected:
        try:
            scorer.score(chunk.subset([position]), args)
        except BridgeError as exc:
            if on_error == "stop":
                raise stopped(exc, frame, position, key) from None
            errors[position] = exc.description
        else:  # alone it predicts: it failed only with the others
            message = "the row predicts alone but not within its batch: " + reason
            if on_error == "stop":
                raise stopped(ModelError(message), frame, position, key)
            errors[position] = message
    full = {}
    for name, values in columns.items():
        column = [None] * len(frame)
        for position, value in zip(kept, values):
            column[position] = value
        full[name] = column
    return full, errors


def _output(batch, frame, keep, plan, columns, errors, on_error):
    import pandas as pd

    n = len(frame)
    extra = [name for name in columns if name not in dict(plan.outputs)]
    if extra:
        raise ModelError(f"predict() answered columns {extra} that the model's example prediction "
                         f"did not have ({plan.output_names}), so the job's schema has no place for "
                         "them")
    out = {f"_bridge_k{i}": batch.iloc[:, j].reset_index(drop=True) for i, j in enumerate(keep)}
    for i, (name, json_type) in enumerate(plan.outputs):
        out[f"_bridge_o{i}"] = typed(columns.get(name, [None] * n), json_type)
    if on_error == "reject":
        out[ERROR_COLUMN] = pd.Series([errors.get(p) for p in range(n)], dtype=object)
    return pd.DataFrame(out)

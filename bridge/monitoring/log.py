"""The prediction log (`--log-predictions DIR`): every answered and refused
call of the service as Parquet rows (records.py), sampled per call.

Layout (docs/monitoring.md): one folder per model, `DIR/<model>/`, holding
complete files `<UTC start>-<pid>-<seq>.parquet`; each file holds one model's
calls of one rotation period, so its columns are that model's (a version
that changes the inputs starts a new file). A file is written whole to a
`.<name>.tmp` beside it and renamed: a reader (pandas, DuckDB, Spark) sees
complete files only, whenever it looks. Before the rename, the folder's
union schema (`DIR/!schema/union.parquet`, union.py) is widened to cover the
file, so `pandas.read_parquet(DIR)` reads every model's columns.

The writer is an observer run by `service.observers.Queued` on its own
thread: rows wait in memory until a file's worth (`rotate_bytes`) or its age
(`rotate_seconds`) is reached, then the file is written. `close()` (on the
writer's thread, at shutdown) writes what is left.
"""

import itertools
import logging
import os
import random
import time
import urllib.parse
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import metrics
from .records import Rows, layout
from .union import UnionSchema

log = logging.getLogger(__name__)


UNRESOLVED = "_unresolved"


def model_folder(name):
    """A folder name for a model name: nothing outside [A-Za-z0-9._-] and no
    leading dot or underscore survives as itself (so never `..`, never a
    hidden folder, and never one that pyarrow and Spark skip when the whole
    log is read: a model `_x.rds` is logged to `%5Fx/`, and none can land in
    `_unresolved/`)."""
    if name is None:
        return UNRESOLVED
    text = urllib.parse.quote(str(name) or "_unknown", safe="-_.")
    return {".": "%2E", "_": "%5F"}.get(text[:1], text[:1]) + text[1:]


class PredictionLog:
    def __init__(self, folder, sample=1.0, rotate_bytes=64 * 2**20, rotate_seconds=300.0,
                 compression="zstd", rng=None):
        if not 0 <= sample <= 1:
            raise ValueError(f"--log-sample must be between 0 and 1, got {sample}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sample = float(sample)
        self.rotate_bytes = int(rotate_bytes)
        self.rotate_seconds = float(rotate_seconds)
        self.compression = compression
        self._random = rng or random.Random()
        self._pending = {}   # model -> _Pending
        self._seq = itertools.count()
        self.union = UnionSchema(self.folder)
        self.files = 0
        self.rows = 0

    # ---- the observer (on the writer thread) ------------------------------------------

    def observe(self, event):
        if self.sample < 1 and self._random.random() >= self.sample:
            return
        # A name that resolved to no served model is the caller's text: its
        # calls go to one folder, never to one named by the caller.
        key = event.model or None
        shape = layout(event)
        pending = self._pending.get(key)
        if pending is not None and shape != pending.layout and not _fits(shape, pending.layout):
            # Columns changed (a new version's inputs): the file so far is
            # written, a new one begins.
            self._flush(key)
            pending = None
        if pending is None:
            pending = self._pending[key] = Rows(shape)
            pending.since = time.monotonic()
        pending.add(event)
        if pending.nbytes >= self.rotate_bytes:
            self._flush(key)

    def tick(self):
        """Called on the writer thread when it is idle: files past their age are written."""
        now = time.monotonic()
        for key in [k for k, p in self._pending.items() if now - p.since >= self.rotate_seconds]:
            self._flush(key)

    def close(self):
        for key in list(self._pending):
            self._flush(key)

    # ---- files ----------------------------------------------------------------------

    def _flush(self, key):
        pending = self._pending.pop(key, None)
        if pending is None or not pending.rows:
            return
        folder = self.folder / model_folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        name = f"{stamp}-{os.getpid()}-{next(self._seq):06d}.parquet"
        tmp = folder / f".{name}.tmp"
        table = pending.table()
        try:
            pq.write_table(table, tmp, compression=self.compression)
            self._admit(table.schema)
            os.replace(tmp, folder / name)
        except OSError:
            tmp.unlink(missing_ok=True)
            metrics.prediction_log_lost(key or UNRESOLVED, table.num_rows)
            raise
        self.files += 1
        self.rows += table.num_rows
        metrics.prediction_log_written(table.num_rows)


    def _admit(self, schema):
        # Before the file is in place: a reader that sees it sees its columns
        # in the folder's union schema too (union.py).
        try:
            self.union.admit(schema)
        except (OSError, pa.ArrowException) as exc:
            log.warning("prediction log: the folder's union schema could not be written "
                        "(%s); pandas.read_parquet(DIR) may miss columns until it is", exc)


def _fits(shape, have):
    """A refused call (no inputs, no outputs) joins a file of answered ones,
    with nulls there (the other way round, the refusals' file is written and
    a typed one begins)."""
    return shape == ((), ())

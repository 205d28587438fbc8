"""Service Events -> the Arrow rows the prediction log writes: one row per
predicted row, the call's fields repeated, then the typed inputs (`in.<name>`)
and the outputs (`out.<name>`). Prefixes keep a model's columns apart from
the call's fields (an input may well be called `id` or `time`).

`Rows` collects calls cheaply (Python lists and the request's own numpy
buffers, no Arrow per call) and builds one Arrow table when a file is
written: the writer keeps up with thousands of single-row calls a second."""

import datetime as dt

import numpy as np
import pyarrow as pa

from ..convert import INT_NA

FIELDS = pa.schema([
    ("id", pa.string()), ("time", pa.timestamp("us", tz="UTC")), ("model", pa.string()),
    ("version", pa.string()), ("protocol", pa.string()), ("route", pa.string()),
    ("status", pa.int16()), ("latency_ms", pa.float64()), ("shadow", pa.bool_()),
    ("traceparent", pa.string()), ("row", pa.int32()), ("error", pa.string()),
])
from .columns import INPUT, OUTPUT  # noqa: F401  (re-exported)


def layout(event):
    """What decides a file's columns: the inputs' names and types, the outputs' names."""
    return (tuple((p.column.name, p.column.kind, p.column.levels) for p in _prepared(event)),
            tuple(_answer_columns(event)))


class Rows:
    """Calls of one layout, not yet a table."""

    def __init__(self, layout):
        self.layout = layout
        self.fields = {f.name: [] for f in FIELDS}
        self.inputs = {name: [] for name, _, _ in layout[0]}   # (Prepared or None, n) chunks
        self.outputs = {name: [] for name in layout[1]}        # lists of values (or None, n)
        self.rows = 0
        self.nbytes = 0

    def add(self, event, now=None):
        prepared = {p.column.name: p for p in _prepared(event)} if event.status == 200 else {}
        answered = _answer_columns(event)
        n = max([len(p) for p in prepared.values()] + [len(v) for v in answered.values()] or [1])
        ctx = event.context
        error = None if event.error is None else _text(str(event.error)[:2000])
        if event.status != 200 and event.error is None:
            error = "internal error"
        f = self.fields
        when = now or dt.datetime.now(dt.timezone.utc)
        for name, value in (("id", ctx.request_id), ("time", when), ("model", event.model),
                            ("version", event.version), ("protocol", ctx.protocol),
                            ("route", ctx.route), ("status", event.status),
                            ("latency_ms", float(event.latency_ms)), ("shadow", bool(event.shadow)),
                            ("traceparent", _text(ctx.traceparent)), ("error", error)):
            f[name].extend([value] * n)
        f["row"].extend(range(n))
        for name, chunks in self.inputs.items():
            p = prepared.get(name)
            chunks.append((p, n))
        for name, chunks in self.outputs.items():
            chunks.append((answered.get(name), n))
        self.rows += n
        self.nbytes += n * (96 + 8 * (len(self.inputs) + len(self.outputs)))

    def table(self):
        arrays = [pa.array(self.fields[f.name], f.type) for f in FIELDS]
        names = [f.name for f in FIELDS]
        for (name, kind, levels), chunks in zip(self.layout[0], self.inputs.values()):
            arrays.append(_input_array(chunks))
            names.append(INPUT + _text(name))
        for name, chunks in self.outputs.items():
            arrays.append(_output_array(chunks))
            names.append(OUTPUT + _text(name))
        return pa.Table.from_arrays(arrays, names=names)


def event_table(event, now=None):
    """One call's rows as a table (tests, tools)."""
    rows = Rows(layout(event))
    rows.add(event, now)
    return rows.table()


def _text(value):
    """A str Parquet can hold (UTF-8): a lone surrogate is escaped, not fatal."""
    if value is None or not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


# ---- inputs: the typed columns the model received ---------------------------------

class _H:
    """A forecast's horizon as a one-row input column."""

    def __init__(self, h):
        from ..schema import Column

        self.column = Column("h", "integer")
        self.data = np.array([h], dtype=np.int32)

    def __len__(self):
        return 1


def _prepared(event):
    request = event.request
    if request is None or event.status != 200:
        return []
    columns = getattr(request, "columns", None)
    if columns is not None:
        return list(columns)
    out = list(getattr(request, "xreg", None) or [])  # a forecast request
    if request.h is not None:
        out.append(_H(request.h))
    return out


def _input_array(chunks):
    first = next((p for p, _ in chunks if p is not None), None)
    if first is None:
        return pa.nulls(sum(n for _, n in chunks))
    pieces = []
    for p, n in chunks:
        if p is None or len(p) != n:
            filler = _filler(first, n if p is None else n - len(p))
            pieces.extend([x for x in (p.data if p is not None else None, filler) if x is not None])
        else:
            pieces.append(p.data)
    if isinstance(first.data, list):
        data = [v for piece in pieces for v in piece]
    else:
        data = np.concatenate(pieces)
    return typed_column(first.column, data)


def _filler(first, n):
    if isinstance(first.data, list):
        return [None] * n
    if first.data.dtype == np.int32:
        return np.full(n, INT_NA, dtype=np.int32)
    return np.full(n, np.nan)


def typed_column(col, data):
    """A column as R gets it (convert.Prepared data) -> an Arrow array of its
    type: doubles, int32, bools, level labels, dates, UTC timestamps; NA -> null."""
    if isinstance(data, list):
        return pa.array([_text(v) for v in data], pa.string())
    kind = col.kind
    if data.dtype == np.int32:
        mask = data == INT_NA
        if kind in ("factor", "ordered"):
            labels = np.array([None, *col.levels], dtype=object)
            return pa.array(labels[np.where(mask, 0, data)], pa.string())
        if kind == "logical":
            return pa.array(data.astype(bool), pa.bool_(), mask=mask)
        return pa.array(data, pa.int32(), mask=mask)
    mask = np.isnan(data)
    if kind == "Date":
        return pa.array(np.where(mask, 0, data).astype(np.int32), pa.date32(), mask=mask)
    if kind == "POSIXct":
        micros = np.round(np.where(mask, 0, data) * 1e6).astype(np.int64)
        return pa.array(micros, pa.timestamp("us", tz="UTC"), mask=mask)
    return pa.array(data, pa.float64(), mask=mask)


# ---- outputs: what was answered ----------------------------------------------------

def _answer_columns(event):
    if event.answer is None:
        return {}
    return getattr(event.answer.result, "columns", None) or {}


def _output_array(chunks):
    values = []
    for piece, n in chunks:
        if piece is None:
            values.extend([None] * n)
        else:
            piece = piece.tolist() if isinstance(piece, np.ndarray) else list(piece)
            values.extend(piece[:n] + [None] * (n - len(piece)))
    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        # mixed values (rare: a custom predict_fn) as text rather than a lost file
        return pa.array([None if v is None else _text(str(v)) for v in values], pa.string())

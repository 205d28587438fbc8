"""One service Event -> the Arrow rows the prediction log writes: one row per
predicted row, the call's fields repeated, then the typed inputs (`in.<name>`)
and the outputs (`out.<name>`). Prefixes keep a model's columns apart from
the call's fields (an input may well be called `id` or `time`)."""

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
INPUT, OUTPUT = "in.", "out."


def event_table(event, now=None):
    """The rows of one call, as a pyarrow Table (a refused call: one row,
    with its error and no inputs or outputs)."""
    inputs = _inputs(event.request) if event.status == 200 else {}
    outputs = _outputs(event.answer) if event.answer is not None else {}
    n = max([len(a) for a in (*inputs.values(), *outputs.values())] or [1])
    ctx = event.context
    when = now or dt.datetime.now(dt.timezone.utc)
    error = None if event.error is None else str(event.error)[:2000]
    if event.status != 200 and event.error is None:
        error = "internal error"
    fields = [
        [ctx.request_id], [when], [event.model], [event.version], [ctx.protocol],
        [ctx.route], [event.status], [float(event.latency_ms)], [bool(event.shadow)],
        [ctx.traceparent], None, [error],
    ]
    arrays, names = [], []
    for field, value in zip(FIELDS, fields):
        if field.name == "row":
            arrays.append(pa.array(np.arange(n, dtype=np.int32)))
        else:
            arrays.append(pa.repeat(pa.scalar(_text(value[0]) if pa.types.is_string(field.type)
                                              else value[0], field.type), n))
        names.append(field.name)
    for prefix, cols in ((INPUT, inputs), (OUTPUT, outputs)):
        for name, array in cols.items():
            if len(array) != n:  # a forecast's one h against its steps: pad to the rows
                array = _fit(array, n)
            names.append(prefix + _text(name))
            arrays.append(array)
    return pa.Table.from_arrays(arrays, names=names)


def _text(value):
    """A str Parquet can hold (UTF-8): a lone surrogate is escaped, not fatal."""
    if value is None or not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _fit(array, n):
    if len(array) > n:
        return array.slice(0, n)
    return pa.concat_arrays([array, pa.nulls(n - len(array), array.type)])


# ---- inputs: the typed columns the model received ---------------------------------

def _inputs(request):
    if request is None:
        return {}
    columns = getattr(request, "columns", None)
    if columns is None:  # a forecast request
        out = {}
        if getattr(request, "xreg", None):
            out.update({p.column.name: typed_column(p) for p in request.xreg})
        if request.h is not None:
            out["h"] = pa.array([request.h], pa.int32())
        return out
    return {p.column.name: typed_column(p) for p in columns}


def typed_column(prepared):
    """A convert.Prepared column (as R gets it) -> an Arrow array of its type:
    doubles, int32, bools, level labels, dates, UTC timestamps; R's NA -> null."""
    col, data = prepared.column, prepared.data
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

def _outputs(answer):
    columns = getattr(answer.result, "columns", None) or {}
    return {name: _any_column(values) for name, values in columns.items()}


def _any_column(values):
    """An answer's column as Arrow infers it; mixed values (rare: a custom
    predict_fn) as their JSON-ish text rather than a lost record."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    try:
        return pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array([None if v is None else _text(str(v)) for v in values], pa.string())

"""Encoded buffers (bridge/convert.py) to R vectors and R's results back to
Python, one function per type and direction (`py2rpy_*`, `rpy2py_*`).

Runs inside an R worker (or the Python API's process), with R to itself
(bridge/r/session.py); NA becomes None on the way back.
"""

import numpy as np
import rpy2.rinterface as ri
from rpy2.rinterface_lib import conversion, memorymanagement, openrlib

from ..convert import INT_MAX, INT_NA, shown
from ..errors import InputError

CLASSES = {
    "factor": ("factor",),
    "ordered": ("ordered", "factor"),
    "Date": ("Date",),
    "POSIXct": ("POSIXct", "POSIXt"),
}


class FrameParts:
    """Builds the parts of an R data.frame from prepared columns (R thread).

    The plain vectors are allocated and filled through R's C API straight
    from the numpy buffers, inside one list that protects them: no Python
    object per column. The class of each column is set by bridge_frame() in
    R (setting a class attribute from outside R leaves R's object bit unset).
    Names, classes, level and time-zone vectors are the same for every
    request of a model, so they are built once and kept.

    NOTE: through rpy2's from_memoryview, a ListSexpVector and slot
    assignments (a Python wrapper, R_PreserveObject and a release for each
    vector and attribute), three single-row columns cost 0.17-0.25 ms
    (bench budget `worker.to_r`); through the C API below, ~0.03 ms.
    """

    def __init__(self):
        self._levels = {}
        self._zones = {}
        self._shapes = {}

    def build(self, prepared):
        columns = tuple(p.column for p in prepared)
        shape = self._shapes.get(columns)
        if shape is None:
            names = ri.StrSexpVector([c.name for c in columns])
            classes = ri.ListSexpVector([
                ri.StrSexpVector(CLASSES[c.kind]) if c.kind in CLASSES else ri.NULL for c in columns])
            shape = self._shapes[columns] = (names, classes)
        rlib = openrlib.rlib
        with memorymanagement.rmemory() as rmemory:
            cols = rmemory.protect(rlib.Rf_allocVector(_VECSXP, len(prepared)))
            keep = [self._vector(rlib, cols, i, p) for i, p in enumerate(prepared)]
            rlib.Rf_setAttrib(cols, _symbol("names"), shape[0].__sexp__._cdata)
            out = conversion._cdata_to_rinterface(cols)
        del keep  # the character vectors' wrappers: the list holds them now
        return out, shape[1]

    def _vector(self, rlib, cols, i, prepared):
        """Column i of `cols` (a protected R list): allocated there first,
        then filled, so every R allocation below finds it reachable."""
        col, data = prepared.column, prepared.data
        kind = col.kind
        if kind == "character":
            vec = ri.StrSexpVector([ri.NA_Character if v is None else v for v in data])
            rlib.SET_VECTOR_ELT(cols, i, vec.__sexp__._cdata)
            return vec
        rtype, accessor, dtype = _BUFFERS.get(kind, _BUFFERS["numeric"])
        buffer = np.ascontiguousarray(data, dtype=dtype)
        vec = rlib.Rf_allocVector(rtype, len(buffer))
        rlib.SET_VECTOR_ELT(cols, i, vec)
        if len(buffer):
            openrlib.ffi.memmove(getattr(rlib, accessor)(vec), openrlib.ffi.from_buffer(buffer),
                                 buffer.nbytes)
        if kind in ("factor", "ordered"):
            levels = self._levels.get(col.levels)
            if levels is None:
                levels = self._levels[col.levels] = ri.StrSexpVector(col.levels)
            rlib.Rf_setAttrib(vec, _symbol("levels"), levels.__sexp__._cdata)
        elif kind == "POSIXct":
            zone = col.tz or "UTC"
            tzone = self._zones.get(zone)
            if tzone is None:
                tzone = self._zones[zone] = ri.StrSexpVector([zone])
            rlib.Rf_setAttrib(vec, _symbol("tzone"), tzone.__sexp__._cdata)
        return None


_VECSXP = ri.RTYPES.VECSXP.value
# kind -> (R type, C accessor, numpy dtype of its data)
_BUFFERS = {
    "logical": (ri.RTYPES.LGLSXP.value, "LOGICAL", np.int32),
    "integer": (ri.RTYPES.INTSXP.value, "INTEGER", np.int32),
    "factor": (ri.RTYPES.INTSXP.value, "INTEGER", np.int32),
    "ordered": (ri.RTYPES.INTSXP.value, "INTEGER", np.int32),
    "numeric": (ri.RTYPES.REALSXP.value, "REAL", np.float64),
}
_SYMBOLS = {}


def _symbol(name):
    """An R symbol (never collected by R), looked up once."""
    sym = _SYMBOLS.get(name)
    if sym is None:
        sym = _SYMBOLS[name] = openrlib.rlib.Rf_install(name.encode())
    return sym


def py2rpy_value(name, value):
    """A predict() argument from JSON: a plain R value, never code."""
    if value is None:
        return ri.NULL
    values = value if isinstance(value, list) else [value]
    types = set(map(type, values))
    if types == {bool}:
        return ri.BoolSexpVector(values)
    if types <= {int} and values and all(-INT_MAX <= v <= INT_MAX for v in values):
        return ri.IntSexpVector(values)
    if types <= {int, float} and values:
        return ri.FloatSexpVector([float(v) for v in values])
    if types == {str}:
        return ri.StrSexpVector(values)
    raise InputError(
        f"argument '{name}': expected a string, number, boolean or a list of one of those, "
        f"got {shown(value)}", argument=name)


def rpy2py_vector(vec):
    """A Python list from an atomic R vector; NA and NaN become None."""
    t = vec.typeof
    if t == ri.RTYPES.NILSXP or not len(vec):
        return []
    if t == ri.RTYPES.REALSXP:
        arr = _numbers(vec, "REAL", np.float64)
        out = arr.tolist()
        if np.isnan(arr).any():
            out = [None if x != x else x for x in out]
        return out
    if t in (ri.RTYPES.INTSXP, ri.RTYPES.LGLSXP):
        arr = _numbers(vec, "LOGICAL" if t == ri.RTYPES.LGLSXP else "INTEGER", np.int32)
        out = arr.astype(bool).tolist() if t == ri.RTYPES.LGLSXP else arr.tolist()
        if (arr == INT_NA).any():
            out = [None if a == INT_NA else x for a, x in zip(arr.tolist(), out)]
        return out
    if t == ri.RTYPES.STRSXP:
        na = ri.NA_Character
        return [None if x is na else x for x in vec]
    raise TypeError(f"cannot read an R vector of type {t}")


def rpy2py_column(vec, short=64):
    """A column of predictions: R doubles as a float64 numpy vector (NA and
    NaN stay NaN; bridge/prediction.py writes them as null, lists as None),
    anything else, and vectors shorter than `short`, as rpy2py_vector's list.

    NOTE: for 100,000 doubles tolist() and the None pass cost 2.5 ms, and
    pickling the list both ways 5.1 ms (numpy: 0.04 ms and 0.13 ms); for
    one value the list is the cheaper one to pickle (2 + 2 us against
    7 + 3 us), so short answers stay lists.
    """
    if vec.typeof == ri.RTYPES.REALSXP and len(vec) >= max(short, 1):
        return _numbers(vec, "REAL", np.float64)
    return rpy2py_vector(vec)


def _numbers(vec, accessor, dtype):
    """A copy of an R numeric vector's data, read through R's C accessor.

    NOTE: not vec.memoryview(): in rpy2 3.5.17 each call drops a reference
    to None (_bufferprotocol.c returns Py_None without Py_INCREF), and on
    Python 3.11 the process aborts with "none_dealloc" after some 17,000
    predictions.
    """
    ptr = getattr(openrlib.rlib, accessor)(vec.__sexp__._cdata)
    size = len(vec) * np.dtype(dtype).itemsize
    return np.frombuffer(openrlib.ffi.buffer(ptr, size), dtype=dtype).copy()

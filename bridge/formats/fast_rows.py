"""Large JSON bodies of rows decoded straight into columns (front side).

`orjson.loads` builds one dict per row and json_rows.py then reads every
value out of them again: for 100,000 rows of three keys that is most of a
request's time in the front (bench/RESULTS.md, the latency budget). Here
the rows are decoded by msgspec into one small struct type per set of keys
(no dict, no per-row key strings, not tracked by the garbage collector) and
the columns read off it.

The answer is exactly json_rows.py's or nothing: `columns(body)` returns
(Table, args), or None, and then the caller takes the general path, which
gives its own answer and its own 400s. Only this shape is taken here:
- a body that is a JSON array of row objects, or {"data": [rows]} with
  an optional "args" object (or null), nothing else in it;
- every row has only keys of the first row (the first row's keys, in its
  order, are the columns, as in json_rows.py; a row without one of them is
  null there), and every value is null, true/false, a number that fits a
  64-bit integer or a double, or a string.
Anything else (a key only later rows have, a nested value, an integer
orjson would read as a float, a value msgspec reads otherwise, bad JSON)
makes msgspec refuse the body, and the general path reads it.
tests/test_fast_rows.py holds the two paths to the same Table on
generated bodies, and to the same refusal.
"""

import re
from operator import attrgetter
from typing import Annotated, Union

import orjson

from ..table import Table

try:  # a server extra (pyproject.toml): the client reads no bodies
    import msgspec
except ImportError:  # pragma: no cover - the client's install
    msgspec = None

# Below this a body is decoded by orjson: the struct type's lookup costs more
# than it saves on a few rows.
MIN_BYTES = 64 * 1024
MAX_KEYS = 256
_CACHED_TYPES = 64

# orjson reads integers past int64 (up to uint64) as int and larger ones as
# float: those bodies take the general path.
_Scalar = None if msgspec is None else Union[
    None, bool, Annotated[int, msgspec.Meta(ge=-2**63, le=2**63 - 1)], float, str]

# The first row's keys, from the text up to the first "}" (a row of
# scalars ends there; a "}" inside a string makes the slice bad JSON).
_ROWS_START = re.compile(rb'\s*\[\s*\{')
_DATA_START = re.compile(rb'\s*\{\s*"data"\s*:\s*\[\s*\{')

# Keys msgspec cannot match by name (it refuses them as field names).
_BAD_KEY = re.compile(r'["\\\x00-\x1f]')

_decoders = {}


def columns(body):
    """(Table, args) of a JSON body of rows, or None: not this shape."""
    if len(body) < MIN_BYTES or msgspec is None:
        return None
    start = _ROWS_START.match(body)
    wrapped = start is None
    if wrapped:
        start = _DATA_START.match(body)
        if start is None:
            return None
    names = _first_row_keys(body, start.end() - 1)
    if names is None:
        return None
    rows_type, doc_type = _types(names)
    try:
        if wrapped:
            doc = msgspec.json.decode(body, type=doc_type)
            rows = doc.data
            # The arguments as orjson reads them (msgspec keeps an integer past
            # uint64 an int, orjson makes it a float).
            args = {} if doc.args is None else orjson.loads(memoryview(doc.args))
            if args is None:
                args = {}
            elif not isinstance(args, dict):
                return None  # the general path says what is wrong with it
        else:
            rows, args = msgspec.json.decode(body, type=list[rows_type]), {}
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, orjson.JSONDecodeError):
        return None
    table = Table({name: list(map(attrgetter(f"f{i}"), rows)) for i, name in enumerate(names)},
                  len(rows))
    return table, args


def _first_row_keys(body, at):
    end = body.find(b"}", at)
    if end < 0:
        return None
    try:
        first = orjson.loads(body[at:end + 1])
    except orjson.JSONDecodeError:
        return None
    if (not isinstance(first, dict) or not first or len(first) > MAX_KEYS
            or any(map(_BAD_KEY.search, first))):
        return None
    return tuple(first)


def _types(names):
    """The struct types for rows with these keys (and their {"data": ...}
    document), made once per set of keys; a bounded cache, as callers
    choose the keys."""
    found = _decoders.get(names)
    if found is None:
        if len(_decoders) >= _CACHED_TYPES:
            _decoders.clear()
        fields = [(f"f{i}", _Scalar, None) for i in range(len(names))]
        row = msgspec.defstruct("Row", fields, rename=dict(zip((f[0] for f in fields), names)),
                                forbid_unknown_fields=True, gc=False)
        doc = msgspec.defstruct("Rows", [("data", list[row]), ("args", msgspec.Raw, None)],
                                forbid_unknown_fields=True)
        found = _decoders[names] = (row, doc)
    return found

"""Request values checked and encoded the way R stores them, one function per type.

Shared code (no rpy2, no falcon): the front runs `prepare_*` on its HTTP
threads, checking each value against the column the model expects and
encoding it as R stores it (doubles, int32 codes, NA bit patterns); every
bad value raises InputError naming the column, the row and the value. The
encoded buffers cross the worker's pipe as they are (bridge/workers/
messages.py), and an R worker joins them (`concat`, micro-batching) before
bridge/r/convert.py wraps them as R vectors.
"""

import dataclasses
import datetime as dt
import math
import reprlib
import struct
import zoneinfo

import numpy as np
import orjson

from .errors import InputError
from .schema import Column
from .suggest import hint

# R's NA_real_ is a NaN with payload 1954; NA_integer_ and NA (logical) are INT_MIN.
REAL_NA = struct.unpack("<d", struct.pack("<Q", 0x7FF00000000007A2))[0]
INT_NA = -(2**31)
INT_MAX = 2**31 - 1
TEXT_NA = frozenset(("", "NA"))
TEXT_TRUE = frozenset(("TRUE", "true", "True", "T"))
TEXT_FALSE = frozenset(("FALSE", "false", "False", "F"))
EPOCH = dt.date(1970, 1, 1)
NoneType = type(None)


@dataclasses.dataclass
class Prepared:
    """One column checked and encoded for R: a numpy buffer, or a list of str."""

    column: Column
    data: object

    def __len__(self):
        return len(self.data)


def _fail(col, row, value, expected, note="", **details):
    got = shown(value)
    if type(value) is str and "number" in expected and _is_number_text(value):
        got = f"the string {got} (send numbers without quotes)"
    if isinstance(value, (list, dict)):
        # A bounded repr: a value nested 1000 deep must not recurse (or reach the JSON error body).
        value = reprlib.repr(value)
    raise InputError(
        f"column '{col.name}', row {row + 1}: expected {expected}, got {got}{note}",
        column=col.name, row=row + 1, value=value if not isinstance(value, str) or len(value) <= 200 else value[:200],
        **details)


def shown(value):
    """A request value as the caller wrote it: JSON (true, null, "2.62"), at most 80 characters."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = reprlib.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number_text(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _first_bad(values, ok):
    for i, v in enumerate(values):
        if not ok(v):
            return i, v
    raise AssertionError("no bad value found")


# ---- Python -> encoded buffers -----------------------------------------------

def prepare_numeric(col, values, text=False):
    if text:
        fast = _text_floats(values)
        if fast is not None:
            return Prepared(col, fast)
        values = [_text_float(col, i, v) for i, v in enumerate(values)]
    types = set(map(type, values))
    if not types <= {int, float, NoneType}:
        i, v = _first_bad(values, lambda v: type(v) in (int, float, NoneType))
        _fail(col, i, v, "a number")
    arr = _int_doubles(values) if types == {int} else None
    try:
        if types == {float}:
            # NOTE: np.fromiter is 4.2 -> 2.1 ms for 100,000 floats (np.array
            # first looks at every value for a nested sequence); for ints it
            # is slower, so they go through int64 (_int_doubles).
            arr = np.fromiter(values, np.float64, len(values))
        elif arr is None:
            arr = np.array([REAL_NA if v is None else v for v in values] if NoneType in types else values,
                           dtype=np.float64)
    except OverflowError:
        i, v = _first_bad(values, lambda v: v is None or abs(v) < 1e308)
        _fail(col, i, v, "a number within double range")
    if float in types:
        # NaN only reaches here from pandas, where it means missing.
        nan = np.isnan(arr)
        if nan.any():
            arr[nan] = REAL_NA
    return Prepared(col, arr)


def _int_doubles(values):
    """Python ints as doubles through int64 (NOTE: 4.8 -> 3.3 ms for 100,000
    ints); None for an int beyond int64, which np.array reads as a double."""
    try:
        return np.fromiter(values, np.int64, len(values)).astype(np.float64)
    except OverflowError:
        return None


def prepare_integer(col, values, text=False):
    if text:
        values = [_text_int(col, i, v) for i, v in enumerate(values)]
    elif float in set(map(type, values)):
        # NaN only reaches here from pandas, where it means missing.
        values = [None if type(v) is float and v != v else v for v in values]

    def ok(v):
        t = type(v)
        if t is int or (t is float and v.is_integer()):
            return -INT_MAX <= v <= INT_MAX
        return v is None

    if not all(map(ok, values)):
        i, v = _first_bad(values, ok)
        _fail(col, i, v, "a whole number (R integer)")
    return Prepared(col, np.array([INT_NA if v is None else v for v in values], dtype=np.int32))


def prepare_logical(col, values, text=False):
    if text:
        values = [_text_bool(col, i, v) for i, v in enumerate(values)]
    if not set(map(type, values)) <= {bool, NoneType}:
        i, v = _first_bad(values, lambda v: type(v) in (bool, NoneType))
        _fail(col, i, v, "true, false or null")
    arr = np.array([INT_NA if v is None else v for v in values], dtype=np.int32)
    return Prepared(col, arr)


def prepare_character(col, values, text=False):
    if text:
        values = [None if v in TEXT_NA else v for v in values]
    if col.levels and not set(map(type, values)) <= {str, NoneType}:
        # Labels of a factor that takes any label (Schema: a character column
        # with levels): 4 names level "4", true "TRUE", as for a factor.
        values = [v if type(v) in (str, NoneType) or _label(v) is None else _label(v) for v in values]
    if not set(map(type, values)) <= {str, NoneType}:
        i, v = _first_bad(values, lambda v: type(v) in (str, NoneType))
        _fail(col, i, v, "a string")
    if any("\x00" in v for v in values if v is not None):
        # R strings end at a NUL: the value would be cut short without a word.
        i, v = _first_bad(values, lambda v: v is None or "\x00" not in v)
        _fail(col, i, v, "a string without NUL characters")
    return Prepared(col, list(values))


def prepare_factor(col, values, text=False, new_levels_na=False):
    codes = col.codes if col.levels else {}
    get = codes.get
    try:
        # Every value a training level: coded in one C loop. Anything else (an
        # NA, a number, an unseen level, an array) stops it with a TypeError
        # and is looked at value by value below. NOTE: 13.7 -> 8.2 ms for
        # 100,000 rows (no list of codes, no `None in` scan of it).
        return Prepared(col, np.fromiter(map(get, values), np.int32, len(values)))
    except TypeError:
        pass
    try:
        # The levels are str keys: any other JSON value maps to None and is
        # looked at below. NOTE: map(get) is 10.3 -> 7.0 ms for 100,000 rows.
        out = list(map(get, values))
    except TypeError:  # an unhashable value (an array or object in a cell)
        out = [get(v) if type(v) is str else None for v in values]
    if None in out:
        for i, (v, code) in enumerate(zip(values, out)):
            if code is not None:
                continue
            if v is None or (text and v in TEXT_NA) or (type(v) is float and math.isnan(v)):
                out[i] = INT_NA
                continue
            label = _label(v)
            if label is not None and label in codes:
                out[i] = codes[label]
                continue
            if new_levels_na and (type(v) is str or label is not None):
                # R answers a level it never saw here as it answers NA
                # (Schema.new_levels): the population level.
                out[i] = INT_NA
                continue
            allowed = list(col.levels)
            listed = ", ".join(shown(x) for x in allowed[:20]) + (", ..." if len(allowed) > 20 else "")
            _fail(col, i, v, f"one of the training levels [{listed}]",
                  note=hint(v if type(v) is str else label, allowed), allowed_levels=allowed)
    return Prepared(col, np.array(out, dtype=np.int32))


def _label(value):
    """The level a JSON scalar stands for: 6 and 6.0 match level "6"."""
    t = type(value)
    if t is bool:
        return "TRUE" if value else "FALSE"
    if t is int:
        return str(value)
    if t is float:
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def prepare_date(col, values, text=False):
    cache = {}
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None or (text and v in TEXT_NA):
            out[i] = REAL_NA
            continue
        days = cache.get(v) if type(v) is str else None
        if days is None:
            days = _days(col, i, v)
            if type(v) is str:
                cache[v] = days
        out[i] = days
    return Prepared(col, out)


def _days(col, i, v):
    if isinstance(v, dt.datetime):
        v = v.date()
    if isinstance(v, dt.date):
        return float((v - EPOCH).days)
    if type(v) is str:
        try:
            return float((dt.date.fromisoformat(v) - EPOCH).days)
        except ValueError:
            pass
    _fail(col, i, v, "an ISO-8601 date (YYYY-MM-DD)")


def prepare_posixct(col, values, text=False):
    tz = _zone(col.tz)
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        if v is None or (text and v in TEXT_NA):
            out[i] = REAL_NA
            continue
        stamp = v
        if type(v) is str:
            try:
                stamp = dt.datetime.fromisoformat(v)
            except ValueError:
                _fail(col, i, v, "an ISO-8601 date-time (e.g. 2024-05-01T12:00:00Z)")
        elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            stamp = dt.datetime(v.year, v.month, v.day)
        if not isinstance(stamp, dt.datetime):
            _fail(col, i, v, "an ISO-8601 date-time (e.g. 2024-05-01T12:00:00Z)")
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=tz)
        out[i] = stamp.timestamp()
    return Prepared(col, out)


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(name) if name else dt.timezone.utc
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def prepare_any(col, values, text=False, strings_unsafe=False, untyped_factor=False):
    """No type recorded by the model: plain JSON typing."""
    if untyped_factor:
        _refuse_untyped_factor(col, values, text)
    if text:
        try:
            return prepare_numeric(Column(col.name, "numeric"), values, text=True)
        except InputError:
            return _strings(col, values, True, strings_unsafe)
    types = set(map(type, values)) - {NoneType}
    if not types:
        return Prepared(Column(col.name, "logical"), np.full(len(values), INT_NA, dtype=np.int32))
    if types <= {int, float}:
        return prepare_numeric(Column(col.name, "numeric"), values)
    if types == {bool}:
        return prepare_logical(Column(col.name, "logical"), values)
    if types == {str}:
        return _strings(col, values, False, strings_unsafe)
    first = type(next(v for v in values if v is not None))
    i, v = _first_bad(values, lambda v: v is None or type(v) is first)
    _fail(col, i, v, "values of one type (all numbers, all strings or all booleans)")


PTYPE_REMEDY = ("Save the model with a prototype of its inputs: "
                "attach_ptype(model, training_data) from r_scripts/ptype.R.")


def _strings(col, values, text, strings_unsafe):
    if strings_unsafe:
        i, v = _first_bad(values, lambda v: not isinstance(v, str) or (text and v in TEXT_NA))
        raise InputError(
            f"column '{col.name}', row {i + 1}: this model does not record the type or levels of "
            f"'{col.name}', so the string {shown(v)} would be coded by R's default (levels taken "
            f"from this request, in alphabetical order), not the way it was in training. "
            + PTYPE_REMEDY, column=col.name, row=i + 1, value=v)
    return prepare_character(Column(col.name, "character"), values, text)


def _refuse_untyped_factor(col, values, text):
    """A factor whose training levels the model keeps nowhere: only NA can be sent."""
    def missing(v):
        return v is None or (text and v in TEXT_NA) or (type(v) is float and math.isnan(v))

    if all(map(missing, values)):
        return
    i, v = _first_bad(values, missing)
    raise InputError(
        f"column '{col.name}', row {i + 1}: '{col.name}' is a factor in this model, but the model "
        f"does not record its levels, so {shown(v)} cannot be coded the way it was in training. "
        + PTYPE_REMEDY, column=col.name, row=i + 1, value=v)


PREPARERS = {
    "numeric": prepare_numeric,
    "integer": prepare_integer,
    "logical": prepare_logical,
    "character": prepare_character,
    "factor": prepare_factor,
    "ordered": prepare_factor,
    "Date": prepare_date,
    "POSIXct": prepare_posixct,
}


def prepare_column(col, values, text=False, strings_unsafe=False, untyped_factor=False,
                   new_levels_na=False):
    if col.kind == "any":
        return prepare_any(col, values, text, strings_unsafe, untyped_factor)
    if new_levels_na:
        return prepare_factor(col, values, text, new_levels_na=True)
    return PREPARERS[col.kind](col, values, text)


def concat(parts):
    """Joins prepared columns of several requests (micro-batching)."""
    first = parts[0]
    if isinstance(first.data, list):
        data = [v for p in parts for v in p.data]
    else:
        data = np.concatenate([p.data for p in parts])
    return Prepared(first.column, data)


def _text_floats(values):
    """CSV numbers parsed in one C loop; None when any value needs a closer
    look (NA markers, or a value that is not a number)."""
    try:
        return np.array(list(map(float, values)), dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _text_float(col, i, v):
    if v is None or v in TEXT_NA:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        _fail(col, i, v, "a number")


def _text_int(col, i, v):
    if v is None or v in TEXT_NA:
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        _fail(col, i, v, "a whole number (R integer)")


def _text_bool(col, i, v):
    if v is None or v in TEXT_NA:
        return None
    if v in TEXT_TRUE:
        return True
    if v in TEXT_FALSE:
        return False
    _fail(col, i, v, "TRUE or FALSE")

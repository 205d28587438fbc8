"""The bulk paths a 100,000-row request takes (bridge/formats/shapes.py
rows_to_columns, bridge/convert.py prepare_numeric / prepare_factor) give what
the value-by-value code they replaced gave: the same columns, the same bytes
(NA payloads included), the same error naming the same row and value.

The reference functions below are that code as it was before the bulk paths
(commit d30b102), kept here as the semantics to hold to."""

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from bridge import convert
from bridge.convert import REAL_NA, INT_NA, NoneType, Prepared, _fail, _first_bad, _label, shown
from bridge.errors import BridgeError
from bridge.formats.shapes import rows_to_columns
from bridge.schema import Column
from bridge.suggest import hint

# ---- the value-by-value reference ---------------------------------------------


def ref_rows_to_columns(rows, what="row"):
    if not all(type(row) is dict for row in rows):
        i = next(i for i, row in enumerate(rows) if type(row) is not dict)
        raise convert_bad_request(f"{what} {i + 1} is not a JSON object", row=i + 1)
    names = dict.fromkeys(rows[0]) if rows else {}
    names.update(dict.fromkeys(sorted(set().union(*rows) - names.keys())))
    return {name: [row.get(name) for row in rows] for name in names}


def convert_bad_request(message, **details):
    from bridge.errors import BadRequest

    return BadRequest(message, **details)


def ref_prepare_numeric(col, values):
    types = set(map(type, values))
    if not types <= {int, float, NoneType}:
        i, v = _first_bad(values, lambda v: type(v) in (int, float, NoneType))
        _fail(col, i, v, "a number")
    try:
        arr = np.array([REAL_NA if v is None else v for v in values], dtype=np.float64)
    except OverflowError:
        i, v = _first_bad(values, lambda v: v is None or abs(v) < 1e308)
        _fail(col, i, v, "a number within double range")
    if float in types:
        nan = np.isnan(arr)
        if nan.any():
            arr[nan] = REAL_NA
    return Prepared(col, arr)


def ref_prepare_factor(col, values, text=False):
    codes = col.codes if col.levels else {}
    out = [codes.get(v) if type(v) is str else None for v in values]
    for i, (v, code) in enumerate(zip(values, out)):
        if code is not None:
            continue
        if v is None or (text and v in convert.TEXT_NA) or (type(v) is float and math.isnan(v)):
            out[i] = INT_NA
            continue
        label = _label(v)
        if label is not None and label in codes:
            out[i] = codes[label]
            continue
        allowed = list(col.levels)
        listed = ", ".join(shown(x) for x in allowed[:20]) + (", ..." if len(allowed) > 20 else "")
        _fail(col, i, v, f"one of the training levels [{listed}]",
              note=hint(v if type(v) is str else label, allowed), allowed_levels=allowed)
    return Prepared(col, np.array(out, dtype=np.int32))


# ---- comparing outcomes --------------------------------------------------------


def outcome(fn, *args):
    """What a call gives: ("ok", bytes of the buffer) or ("error", class, message, details)."""
    try:
        got = fn(*args)
    except BridgeError as exc:
        return ("error", type(exc).__name__, exc.description, exc.details)
    if isinstance(got, Prepared):
        return ("ok", got.data.dtype.str, got.data.tobytes())
    return ("ok", got)


# ---- generated columns, bad values at random positions -------------------------

LEVELS = ("4", "6", "8", "TRUE", "1.5", "")
ints = st.one_of(st.integers(-2**31, 2**31), st.integers(-2**70, 2**70),
                 st.sampled_from([2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**53 + 1, 10**308, 10**309]))
floats = st.floats(allow_nan=True, allow_infinity=True)
odd = st.one_of(st.booleans(), st.text(max_size=4), st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
cells = st.one_of(st.none(), ints, floats, odd, st.sampled_from(LEVELS))


def columns_of(base, rare):
    """Lists mostly of one kind of value, sometimes with a rarer one at random places."""
    return st.lists(base, max_size=40).flatmap(
        lambda values: st.lists(st.tuples(st.integers(0, len(values)), rare), max_size=3).map(
            lambda inserts: _insert(values, inserts)))


def _insert(values, inserts):
    out = list(values)
    for at, v in inserts:
        out.insert(min(at, len(out)), v)
    return out


@settings(max_examples=400, deadline=None)
@given(st.one_of(columns_of(ints, cells), columns_of(floats, cells),
                 columns_of(st.one_of(ints, floats, st.none()), cells)))
def test_numeric_bulk_path_is_the_value_by_value_one(values):
    col = Column("x", "numeric")
    assert outcome(convert.prepare_numeric, col, values) == outcome(ref_prepare_numeric, col, values)


@settings(max_examples=400, deadline=None)
@given(columns_of(st.sampled_from(LEVELS[:3]), cells), st.booleans())
def test_factor_bulk_path_is_the_value_by_value_one(values, ordered):
    col = Column("cyl", "ordered" if ordered else "factor", LEVELS)
    assert outcome(convert.prepare_factor, col, values) == outcome(ref_prepare_factor, col, values)


@settings(max_examples=200, deadline=None)
@given(columns_of(st.sampled_from(LEVELS[:3]),
                  st.one_of(st.none(), st.text(max_size=3), st.sampled_from(["NA", "", "9"]))))
def test_factor_bulk_path_reads_csv_text_as_before(values):
    # CSV cells are str (or None): the only values a text column carries.
    col = Column("cyl", "factor", LEVELS[:3])
    assert outcome(convert.prepare_factor, col, values, True) == \
        outcome(ref_prepare_factor, col, values, True)


def test_factor_without_levels_refuses_a_value_as_before():
    col = Column("cyl", "factor")
    for values in (["4"], [None, "4"], [None], []):
        assert outcome(convert.prepare_factor, col, values) == outcome(ref_prepare_factor, col, values)


keys = st.sampled_from(["wt", "hp", "cyl", "am", "id"])
rows = st.lists(st.dictionaries(keys, cells, max_size=5), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    rows,
    # rows of the same keys, sometimes in another order, a key left out or one more
    st.permutations(["wt", "hp", "cyl"]).flatmap(lambda names: st.lists(
        st.fixed_dictionaries({n: cells for n in names}), min_size=1, max_size=12)).flatmap(
        lambda rs: columns_of(st.just(rs[0]), st.one_of(
            st.dictionaries(keys, cells, max_size=4), st.integers(), st.lists(st.none(), max_size=1)
        )).map(lambda extra: rs + extra))))
def test_rows_to_columns_is_the_value_by_value_one(rows):
    fast, ref = outcome(rows_to_columns, rows), outcome(ref_rows_to_columns, rows)
    assert fast == ref
    if fast[0] == "ok":
        assert list(fast[1]) == list(ref[1])  # the column order too

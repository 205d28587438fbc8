"""bridge/formats/fast_rows.py: a large JSON body of rows read straight into
columns gives json_rows.py's Table exactly, or declines (and json_rows.py
then answers, with its own 400s).

The property: for any body, fast_rows.columns is None or equal to the
general path's (Table, args), value for value and type for type (1 is not
1.0, -0.0 is not 0.0, a big integer is what orjson makes of it).
"""

import json
import math

import orjson
import pytest
import requests
from hypothesis import HealthCheck, given, settings, strategies as st

from bridge.errors import BadRequest
from bridge.formats import fast_rows, json_rows
from conftest import EXAMPLES, copy_model

KEYS = st.sampled_from(["wt", "hp", "cyl", "", "a b", "}", "{", '"', "\\", "\x01", "\u2028", "data",
                        "args", "é", "x" * 40])
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(-2**63, 2**63 - 1), st.integers(-2**70, 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=2),
                   st.dictionaries(st.text(max_size=2), SCALARS, max_size=2))


@st.composite
def bodies(draw):
    first = draw(st.dictionaries(KEYS, SCALARS, min_size=1, max_size=5))
    rows = [first]
    for _ in range(draw(st.integers(0, 6))):
        shape = draw(st.sampled_from(["same", "subset", "extra", "nested", "not a row"]))
        if shape == "not a row":
            rows.append(draw(SCALARS))
            continue
        keys = list(first)
        if shape == "subset":
            keys = draw(st.lists(st.sampled_from(keys), unique=True))
        row = {k: draw(SCALARS) for k in keys}
        if shape == "extra":
            row[draw(KEYS)] = draw(SCALARS)
        if shape == "nested":
            row[draw(st.sampled_from(list(first)))] = draw(VALUES)
        rows.append(row)
    doc = rows
    form = draw(st.sampled_from(["rows", "data", "data+args", "data+null", "data+bad", "params"]))
    if form != "rows":
        doc = {"data": rows}
        if form == "data+args":
            doc["args"] = draw(st.dictionaries(st.text(max_size=3), SCALARS, max_size=2))
        elif form == "data+null":
            doc["args"] = None
        elif form == "data+bad":
            doc["args"] = draw(st.one_of(st.lists(SCALARS, max_size=2), st.text(max_size=2)))
        elif form == "params":
            doc["params"] = {"type": "response"}
    # json writes integers of any size; ensure_ascii escapes every other
    # character (keys too), as some clients do
    compact, ascii_only = draw(st.booleans()), draw(st.booleans())
    return json.dumps(doc, separators=(",", ":") if compact else None, indent=None if compact else 1,
                      ensure_ascii=ascii_only).encode()


def general(body):
    try:
        return json_rows.from_document(json_rows.load_json(body))
    except BadRequest as exc:
        return exc


def typed(table_and_args):
    """Everything about a (Table, args) that must agree, with each value's type
    (and a float's sign and bits: repr)."""
    table, args = table_and_args
    return ([(name, [(type(v).__name__, repr(v)) for v in values])
             for name, values in table.columns.items()], table.nrows, table.text, repr(args))


@pytest.fixture(autouse=True)
def any_size(monkeypatch):
    monkeypatch.setattr(fast_rows, "MIN_BYTES", 0)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies())
def test_the_fast_path_is_the_general_path_or_declines(body):
    fast = fast_rows.columns(body)
    if fast is None:
        return
    slow = general(body)
    assert not isinstance(slow, BadRequest), (body, slow.description)
    assert typed(fast) == typed(slow), body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.dictionaries(KEYS, SCALARS.filter(lambda v: not (isinstance(v, int) and not
                                                                  isinstance(v, bool) and
                                                                  abs(v) >= 2**63)),
                             min_size=1, max_size=5).filter(
           lambda row: not any("}" in v for v in [*row, *(v for v in row.values() if isinstance(v, str))])
           and not any(c in k for k in row for c in '"\\\x01')),
       n=st.integers(1, 50), wrapped=st.booleans())
def test_plain_rows_take_the_fast_path(first, n, wrapped):
    """Rows of the first row's keys and plain values are read here (a "}" in
    the first row, and keys msgspec cannot name, are left to the general path)."""
    rows = [dict(first) for _ in range(n)]
    if n > 1:
        rows[-1] = {k: None for k in list(first)[:-1]}  # a key left out: null, as in json_rows.py
    body = orjson.dumps({"data": rows, "args": {"type": "response"}} if wrapped else rows)
    fast = fast_rows.columns(body)
    assert fast is not None, body
    assert typed(fast) == typed(general(body))


@pytest.mark.parametrize("body", [
    b'[{"a": 1, "a": 2}, {"a": 3}]',                      # duplicate keys: the last one, as orjson
    b'[{"a": 1}, {"a": 2, "a": null}]',
    b'{"data": [{"a": 1}], "data": [{"a": 2}, {"a": 3}]}',
    b'{"data": [{"a": 1}], "data": {"a": [5]}}',
    b'[{"a": 18446744073709551615}]',                     # past int64: orjson's int
    b'[{"a": 123456789012345678901234567890}]',           # past uint64: orjson's float
    b'[{"a": 1e400}]', b'[{"a": NaN}]', b'[{"a": "\\ud800"}]', b'[{"a": 1},]',
    b'[{"a": "}"}, {"a": 2}]', b'[{"a": {"b": 1}}, {"a": 2}]',
    b'[{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}]",
    b'[{"\\u0061": 1}, {"a": 2}]', b'[{"a": 1}, {"\\u0061": 2}]',  # a key escaped
    b'{"data": [{"a": 1}], "args": {"k": 123456789012345678901234567}}',  # orjson: a float
    b'{"data": [{"a": 1}], "args": {"k": [1e400]}}', b'{"data": [{"a": 1}], "args": null}',
    b'{"data": [{"a": 1}], "args": {"k": 18446744073709551615, "n": {"m": [true, null]}}}',
    b'[{"a": 1}] trailing', b'[{"a": 1}, 2]', b'[{}]', b'{"data": [{"a": 1}], "args": 3}',
])
def test_edge_bodies_agree(body):
    fast = fast_rows.columns(body)
    slow = general(body)
    if fast is not None:
        assert not isinstance(slow, BadRequest), slow.description
        assert typed(fast) == typed(slow)
    # whichever path reads it, parse() answers as the general path does
    try:
        got = json_rows.parse(body)
    except BadRequest as exc:
        assert isinstance(slow, BadRequest) and exc.description == slow.description
    else:
        assert typed(got) == typed(slow)


def test_the_cache_of_row_types_is_bounded():
    for i in range(fast_rows._CACHED_TYPES * 3):
        assert fast_rows.columns(orjson.dumps([{f"k{i}": 1}])) is not None
    assert len(fast_rows._decoders) <= fast_rows._CACHED_TYPES


def test_a_large_body_of_rows_is_rs_answer_through_a_server(start_server, model_dir):
    """Past MIN_BYTES, on a real server: the same predictions as the same rows
    sent as columns (which never take this path) and as R's own answer for
    the first row."""
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    server = start_server(model_dir)
    rows = [{"wt": 1.5 + (i % 400) / 100, "hp": 50 + i % 280, "cyl": ["4", "6", "8"][i % 3]}
            for i in range(3000)]
    rows[7]["hp"] = None  # null: R's NA
    body = orjson.dumps(rows)
    assert len(body) > 64 * 1024  # the real threshold (this test's server runs its own)
    by_rows = requests.post(f"{server.url}/models/mtcars_lm/predict", data=body,
                            headers={"Content-Type": "application/json"}, timeout=60)
    columns = {k: [r[k] for r in rows] for k in ("wt", "hp", "cyl")}
    by_columns = requests.post(f"{server.url}/models/mtcars_lm/predict", json={"data": columns},
                               timeout=60)
    assert by_rows.status_code == 200 and by_columns.status_code == 200, by_rows.text
    assert by_rows.json()["predictions"] == by_columns.json()["predictions"]
    assert by_rows.json()["predictions"][7] is None
    one = requests.post(f"{server.url}/models/mtcars_lm/predict", json=rows[:1], timeout=60)
    assert math.isclose(one.json()["predictions"][0], by_rows.json()["predictions"][0], rel_tol=0,
                        abs_tol=0)
    # a stray key in a later row is still named, as the general path names it
    rows[2999] = {"wt": 2.0, "hpp": 100, "cyl": "4"}
    bad = requests.post(f"{server.url}/models/mtcars_lm/predict", data=orjson.dumps(rows),
                        headers={"Content-Type": "application/json"}, timeout=60)
    assert bad.status_code == 422 and "'hpp'" in bad.json()["description"], bad.text

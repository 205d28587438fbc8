"""Conversion edge cases, through the real embedded R."""

import datetime as dt
import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from bridge.convert import INT_NA, prepare_column
from bridge.r.convert import FrameParts, rpy2py_vector
from bridge.errors import InputError
from bridge.schema import Column
from conftest import rscript


def predict(client, model, data, args=None):
    return client.simulate_post(f"/models/{model}/predict", json={"data": data, "args": args or {}})


def r_roundtrip(session, column, values, text=False):
    """values -> prepared -> R data.frame column -> R's own rendering -> Python."""
    prepared = prepare_column(column, values, text)

    def run():
        ri = session.ri
        cols, classes = FrameParts().build([prepared])
        frame = session.helper("bridge_frame")(cols, classes, ri.IntSexpVector([len(values)]))
        col = frame[0]
        r_class = list(col.rclass)
        if column.kind in ("factor", "ordered", "Date", "POSIXct"):
            col = ri.baseenv["as.character"](col) if column.kind != "POSIXct" else \
                ri.baseenv["format"](col, "%Y-%m-%dT%H:%M:%S", tz="UTC")
        levels = list(ri.baseenv["levels"](frame[0])) if column.levels else None
        return rpy2py_vector(col), r_class, levels

    return session.run(run)


# ---- round trips (property based) --------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), finite, st.integers(-2**53, 2**53)), max_size=30))
def test_numeric_roundtrip(session, values):
    got, r_class, _ = r_roundtrip(session, Column("x", "numeric"), values)
    assert r_class == ["numeric"]
    assert got == [None if v is None else float(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-2**31 + 1, 2**31 - 1)), max_size=30))
def test_integer_roundtrip(session, values):
    got, r_class, _ = r_roundtrip(session, Column("n", "integer"), values)
    assert r_class == ["integer"]
    assert got == values


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                                        blacklist_characters="\x00"))),
                max_size=20))
def test_character_roundtrip_keeps_unicode(session, values):
    got, r_class, _ = r_roundtrip(session, Column("s", "character"), values)
    assert r_class == ["character"]
    assert got == values


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_factor_roundtrip_keeps_all_levels_in_order(session, data):
    # R strings cannot hold NUL, so no training level can.
    text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   min_size=1, max_size=5)
    levels = data.draw(st.lists(text, min_size=1, max_size=6, unique=True))
    values = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(levels)), max_size=10))
    ordered = data.draw(st.booleans())
    col = Column("f", "ordered" if ordered else "factor", tuple(levels))
    got, r_class, r_levels = r_roundtrip(session, col, values)
    assert got == values
    assert r_levels == levels
    assert r_class == (["ordered", "factor"] if ordered else ["factor"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))), max_size=15))
def test_date_roundtrip(session, values):
    strings = [None if d is None else d.isoformat() for d in values]
    got, r_class, _ = r_roundtrip(session, Column("d", "Date"), strings)
    assert r_class == ["Date"]
    # R formats years below 1000 without zero padding; compare as dates.
    assert [None if g is None else dt.date(*map(int, g.split("-"))) for g in got] == values


def test_posixct_reads_offsets_and_zones(session):
    col = Column("t", "POSIXct", tz="UTC")
    got, r_class, _ = r_roundtrip(session, col, ["2024-05-01T12:00:00Z", "2024-05-01T14:00:00+02:00",
                                                 "2024-05-01T12:00:00", None])
    assert r_class == ["POSIXct", "POSIXt"]
    assert got == ["2024-05-01T12:00:00"] * 3 + [None]


def test_logical_roundtrip(session):
    got, r_class, _ = r_roundtrip(session, Column("b", "logical"), [True, False, None])
    assert (got, r_class) == ([True, False, None], ["logical"])


def test_csv_text_is_parsed_by_column_type(session):
    assert r_roundtrip(session, Column("x", "numeric"), ["1.5", "", "NA", "-2e3"], text=True)[0] == \
        [1.5, None, None, -2000.0]
    assert r_roundtrip(session, Column("b", "logical"), ["TRUE", "false", "NA"], text=True)[0] == \
        [True, False, None]
    assert r_roundtrip(session, Column("n", "integer"), ["3", ""], text=True)[0] == [3, None]


# ---- value checks (pure Python) --------------------------------------------------

@pytest.mark.parametrize("kind,value,expected", [
    ("numeric", "1.5", "a number"),
    ("numeric", True, "a number"),
    ("integer", 2.5, "a whole number"),
    ("integer", 2**31, "a whole number"),
    ("logical", 1, "true, false or null"),
    ("character", 5, "a string"),
    ("Date", "2024-13-01", "an ISO-8601 date"),
    ("Date", 20240101, "an ISO-8601 date"),
    ("POSIXct", "yesterday", "an ISO-8601 date-time"),
])
def test_wrong_type_names_column_row_and_value(kind, value, expected):
    with pytest.raises(InputError) as err:
        prepare_column(Column("col", kind), [None, value])
    assert "column 'col', row 2" in err.value.description
    assert expected in err.value.description
    assert err.value.details["value"] == value


def test_integer_column_accepts_integral_doubles():
    assert prepare_column(Column("n", "integer"), [3.0, 4, None]).data.tolist() == [3, 4, INT_NA]


def test_factor_accepts_numbers_that_name_a_level():
    col = Column("cyl", "factor", ("4", "6", "8"))
    assert prepare_column(col, [6, 8.0, "4"]).data.tolist() == [2, 3, 1]


def test_unseen_level_lists_the_allowed_levels():
    col = Column("cyl", "factor", ("4", "6", "8"))
    with pytest.raises(InputError) as err:
        prepare_column(col, ["4", "5"])
    assert err.value.details["allowed_levels"] == ["4", "6", "8"]
    # values are shown as the caller wrote them: JSON
    assert 'got "5"' in err.value.description and "row 2" in err.value.description


# ---- through HTTP and predict() ---------------------------------------------------

def test_single_row_single_level_keeps_training_levels(client, fixture_models):
    spec = json.loads((fixture_models / "lm_factor.case.json").read_text())
    for row, want in zip(spec["rows"], spec["expected"]):
        resp = predict(client, "lm_factor", [row])
        assert resp.status_code == 200, resp.text
        got = resp.json["predictions"][0]
        assert (want is None and got is None) or math.isclose(got, want, rel_tol=1e-9)


def test_na_in_every_type_gives_null_not_an_error(client):
    rows = [{"flag": None, "day": "2024-01-05", "count": 3},
            {"flag": True, "day": None, "count": 3},
            {"flag": True, "day": "2024-01-05", "count": None},
            {"flag": True, "day": "2024-01-05", "count": 3}]
    resp = predict(client, "lm_types", rows)
    assert resp.status_code == 200, resp.text
    got = resp.json["predictions"]
    assert got[:3] == [None, None, None]
    assert isinstance(got[3], float)


def test_unseen_level_is_422_naming_level(client):
    rows = [{"wt": 2.6, "cyl": "6", "power": "extreme", "gear": 4}]
    resp = predict(client, "lm_factor", rows)
    assert resp.status_code == 422, resp.text
    body = resp.json
    assert body["column"] == "power" and body["value"] == "extreme"
    assert body["allowed_levels"] == ["low", "mid", "high"]
    assert "allowed_levels" in body


def test_missing_column_is_422(client):
    resp = predict(client, "lm_types", [{"flag": True, "count": 3}])
    assert resp.status_code == 422, resp.text
    assert resp.json["missing_columns"] == ["day"]


def test_extra_columns_are_ignored(client, fixture_models):
    spec = json.loads((fixture_models / "glm_binomial.case.json").read_text())
    rows = [{**row, "unused": "x", "more": [1, 2]} for row in spec["rows"]]
    resp = predict(client, "glm_binomial", rows, spec["args"])
    assert resp.status_code == 200, resp.text
    assert all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(resp.json["predictions"], spec["expected"]))


def test_empty_data_gives_empty_predictions(client):
    for data in ([], {"flag": [], "day": [], "count": []}):
        resp = predict(client, "lm_types", data)
        assert resp.status_code == 200, resp.text
        assert resp.json["predictions"] == []


def test_integer_column_refuses_fractions(client):
    resp = predict(client, "lm_types", [{"flag": True, "day": "2024-01-05", "count": 2.5}])
    assert resp.status_code == 422, resp.text
    assert resp.json["column"] == "count"


@pytest.fixture(scope="module")
def unicode_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("unicode")
    rscript(f"""
        set.seed(3)
        d <- data.frame(x = rnorm(30), check.names = FALSE)
        d[["größe"]] <- factor(sample(c("klein", "groß", "sehr groß 🐘"), 30, TRUE),
                               levels = c("klein", "groß", "sehr groß 🐘"))
        d$y <- d$x * 2 + as.integer(d[["größe"]])
        m <- lm(y ~ ., data = d)
        saveRDS(m, file.path("{folder}", "uni.rds"))
        nd <- data.frame(x = c(0.5, -1), check.names = FALSE)
        nd[["größe"]] <- factor(c("sehr groß 🐘", "groß"), levels = levels(d[["größe"]]))
        writeLines(format(predict(m, nd), digits = 17), file.path("{folder}", "expected.txt"))
    """)
    return folder


def test_unicode_column_names_and_levels(unicode_model, pool):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.registry import Registry

    reg = Registry(unicode_model, pool)
    reg.scan()
    client = testing.TestClient(create_app(reg))
    resp = client.simulate_post("/models/uni/predict",
                                json=[{"x": 0.5, "größe": "sehr groß 🐘"}, {"x": -1, "größe": "groß"}])
    assert resp.status_code == 200, resp.text
    want = [float(v) for v in (unicode_model / "expected.txt").read_text().split()]
    assert all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(resp.json["predictions"], want))
    resp = client.simulate_post("/models/uni/predict", json=[{"x": 0.5, "größe": "riesig"}])
    assert resp.status_code == 422 and resp.json["column"] == "größe"


def test_nul_in_a_string_is_refused_not_truncated():
    with pytest.raises(InputError) as err:
        prepare_column(Column("s", "character"), ["ok", "cut\x00here"])
    assert err.value.details["row"] == 2


def test_reading_results_keeps_none_alive(session):
    """rpy2 3.5.17's memoryview() drops a reference to None per call, which
    crashed the server after ~17,000 predictions; results must not use it."""
    import sys

    vectors = session.run(lambda: [session.ri.FloatSexpVector([1.5, 2.5]),
                                   session.ri.IntSexpVector([1, 2]),
                                   session.ri.BoolSexpVector([True, False])])
    before = sys.getrefcount(None)
    for _ in range(2000):
        session.run(lambda: [rpy2py_vector(v) for v in vectors])
    assert sys.getrefcount(None) > before - 500
    assert session.run(lambda: [rpy2py_vector(v) for v in vectors]) == [[1.5, 2.5], [1, 2], [True, False]]


@pytest.mark.parametrize("kind, value, shown", [
    ("numeric", "2.62", 'got the string "2.62"'),
    ("numeric", True, "got true"),
    ("integer", "7", 'got the string "7"'),
    ("numeric", {"a": None}, 'got {"a":null}'),
    ("logical", "yes", 'got "yes"'),
    ("character", 3, "got 3"),
])
def test_bad_values_are_shown_as_json(kind, value, shown):
    with pytest.raises(InputError) as err:
        prepare_column(Column("c", kind), [None, value])
    assert shown in err.value.description, err.value.description


@pytest.mark.parametrize("value, near", [("Low", "low"), ("MID", "mid"), ("hgh", "high")])
def test_a_level_near_a_training_level_is_suggested(value, near):
    with pytest.raises(InputError) as err:
        prepare_column(Column("power", "ordered", ("low", "mid", "high")), [value])
    assert f"did you mean '{near}'" in err.value.description


@pytest.mark.parametrize("values", [["a"], [None, "b"], [1.0], [True]])
def test_an_untyped_factor_takes_no_value(values):
    with pytest.raises(InputError) as err:
        prepare_column(Column("cyl", "any"), values, untyped_factor=True)
    assert err.value.details["column"] == "cyl" and "attach_ptype" in err.value.description


def test_an_untyped_factor_takes_nulls():
    assert prepare_column(Column("cyl", "any"), [None, None], untyped_factor=True).data.tolist() == [INT_NA] * 2


@pytest.mark.parametrize("values", [["a"], [None, "b", None]])
def test_strings_for_an_untyped_column_are_refused_when_unsafe(values):
    with pytest.raises(InputError) as err:
        prepare_column(Column("g", "any"), values, strings_unsafe=True)
    assert err.value.details["column"] == "g" and "attach_ptype" in err.value.description


# ---- predictions back: R doubles as numpy, rendered as the lists were ---------------------------
#
# A column of R doubles stays a float64 vector from R to the JSON answer
# (bridge/prediction.py). Whatever the value, the answer must be byte for
# byte what the Python list rpy2py_vector makes (None for NA and NaN) gave,
# in JSON and CSV, and the vector must cross the worker's pipe bit for bit.

R_DOUBLE_EDGES = {"NA": "NA_real_", "NaN": "NaN", "Inf": "Inf", "-Inf": "-Inf", "-0": "-0",
                  "subnormal": "5e-324", "largest": ".Machine$double.xmax", "1e16": "1e16",
                  "tenth": "0.1 + 0.2", "integral": "21"}


def _both_ways(session, r_code):
    """The R vector `r_code` read as today's list and as the numpy column."""
    from bridge.r.convert import rpy2py_column

    def run():
        vec = session.ri.baseenv["eval"](session.ri.parse(r_code))
        return rpy2py_vector(vec), rpy2py_column(vec, short=0)

    return session.run(run)


def _renderings(column):
    import orjson

    from bridge.prediction import Prediction
    from bridge.render import prediction_csv
    from bridge.workers.messages import dumps, loads

    vector = Prediction("vector", {"prediction": column}, {}, [])
    table = Prediction("table", {"fit": column, "lwr": column}, {}, [])
    crossed = loads(bytes(dumps(vector)))
    return {"json": orjson.dumps({"predictions": crossed.json_records()}, option=orjson.OPT_SERIALIZE_NUMPY),
            "json_table": orjson.dumps({"predictions": loads(bytes(dumps(table))).json_records()},
                                       option=orjson.OPT_SERIALIZE_NUMPY),
            "csv": prediction_csv(crossed), "columns": crossed.columns, "records": crossed.records()}


@pytest.mark.parametrize("edge", list(R_DOUBLE_EDGES))
def test_a_double_edge_case_renders_as_the_list_did(session, edge):
    import numpy as np

    as_list, as_numpy = _both_ways(session, f"c(1.5, {R_DOUBLE_EDGES[edge]}, 2.25)")
    assert isinstance(as_numpy, np.ndarray) and as_numpy.dtype == np.float64
    assert _renderings(as_numpy) == _renderings(as_list)


def test_r_na_crosses_the_pipe_with_its_payload(session):
    """NA_real_ and NaN are told apart in R by the NaN's payload: the
    vector that crosses is the same bits."""
    import numpy as np

    from bridge.workers.messages import dumps, loads

    for r_code in ("c(NA_real_, NaN, 1)", "c(NA_real_, NaN, runif(100000))"):  # bytes; numpy's own
        _, column = _both_ways(session, r_code)
        back = loads(bytes(dumps(column)))
        assert back.tobytes() == column.tobytes()
        assert column.view(np.uint64)[0] == 0x7FF00000000007A2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40))
def test_any_doubles_render_as_the_list_did(session, values):
    def run():
        vec = session.ri.FloatSexpVector(values)
        from bridge.r.convert import rpy2py_column
        return rpy2py_vector(vec), rpy2py_column(vec, short=0)

    as_list, as_numpy = session.run(run)
    assert _renderings(as_numpy) == _renderings(as_list)


@pytest.mark.parametrize("r_code", ["1:3", "c(TRUE, NA)", "c('a', NA)", "numeric(0)"])
def test_other_vectors_come_back_as_lists(session, r_code):
    as_list, column = _both_ways(session, r_code)
    assert column == as_list and type(column) is list


def test_short_double_answers_stay_lists_long_ones_numpy(session):
    """The size the representation changes at: both render alike (above)."""
    from bridge.r.convert import rpy2py_column

    def run():
        short, long = (session.ri.FloatSexpVector([1.5] * n) for n in (63, 64))
        return rpy2py_column(short), rpy2py_column(long)

    short, long = session.run(run)
    assert type(short) is list and long.dtype.kind == "f" and len(long) == 64

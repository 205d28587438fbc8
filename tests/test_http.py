"""The HTTP API: payload formats, metadata, and every error status."""

import json
import math

import pytest

from conftest import EXAMPLES


@pytest.fixture(scope="module")
def examples(pool):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.registry import Registry

    reg = Registry(EXAMPLES, pool)
    reg.scan()
    return testing.TestClient(create_app(reg))


CARS = [{"wt": 2.62, "hp": 110, "cyl": "6"}, {"wt": 3.215, "hp": 110, "cyl": "6"}]


def test_lists_every_example_model(examples):
    listing = examples.simulate_get("/models").json["models"]
    assert {m["name"]: m["status"] for m in listing} == {
        "mtcars_lm": "loaded", "infert_glm": "loaded", "iris_rf": "loaded", "warpbreaks_ranger": "loaded"}


def test_metadata_describes_inputs(examples):
    meta = examples.simulate_get("/models/mtcars_lm").json
    assert meta["class"] == ["lm"]
    assert meta["inputs"]["complete"] is True
    assert {"name": "cyl", "type": "factor", "required": True, "levels": ["4", "6", "8"]} in \
        meta["inputs"]["columns"]
    assert len(meta["sha256"]) == 64 and meta["r_version"].startswith("R version")
    rf = examples.simulate_get("/models/iris_rf").json
    assert rf["packages"] == ["randomForest"]


@pytest.mark.parametrize("body,content_type", [
    (json.dumps(CARS), "application/json"),
    (json.dumps({"data": CARS}), "application/json"),
    (json.dumps({"data": {"wt": [2.62, 3.215], "hp": [110, 110], "cyl": ["6", "6"]}}), "application/json"),
    (json.dumps({"dataframe_records": CARS}), "application/json"),
    (json.dumps({"dataframe_split": {"columns": ["wt", "hp", "cyl"],
                                     "data": [[2.62, 110, "6"], [3.215, 110, "6"]]}}), "application/json"),
    ("wt,hp,cyl\n2.62,110,6\n3.215,110,6\n", "text/csv"),
    ("wt,hp,cyl\r\n2.62,110,6\r\n3.215,110,6\r\n", "text/csv; charset=utf-8"),
    (json.dumps(CARS), "application/x-www-form-urlencoded"),  # curl -d
])
def test_every_input_format_gives_the_same_answer(examples, body, content_type):
    resp = examples.simulate_post("/models/mtcars_lm/predict", body=body,
                                  headers={"Content-Type": content_type})
    assert resp.status_code == 200, resp.text
    # R: predict(readRDS("r_models/mtcars_lm.rds"), data.frame(wt = c(2.62, 3.215),
    #    hp = c(110, 110), cyl = factor(c("6", "6"), levels = c("4", "6", "8"))))
    assert [round(p, 6) for p in resp.json["predictions"]] == [21.608513, 19.715577]


def test_class_labels_and_probabilities(examples):
    rows = [{"Sepal.Length": 5.1, "Sepal.Width": 3.5, "Petal.Length": 1.4, "Petal.Width": 0.2},
            {"Sepal.Length": 7.7, "Sepal.Width": 3.0, "Petal.Length": 6.1, "Petal.Width": 2.3}]
    labels = examples.simulate_post("/models/iris_rf/predict", json=rows).json["predictions"]
    assert labels == ["setosa", "virginica"]
    probs = examples.simulate_post("/models/iris_rf/predict",
                                   json={"data": rows, "args": {"type": "prob"}}).json["predictions"]
    assert set(probs[0]) == {"setosa", "versicolor", "virginica"}
    assert probs[0]["setosa"] > 0.9 and math.isclose(sum(probs[1].values()), 1.0)


def test_list_results_split_into_rows_and_info(examples):
    resp = examples.simulate_post("/models/mtcars_lm/predict",
                                  json={"data": CARS[:1], "args": {"se.fit": True, "interval": "confidence"}})
    assert resp.status_code == 200, resp.text
    row = resp.json["predictions"][0]
    assert set(row) == {"fit.fit", "fit.lwr", "fit.upr", "se.fit"}
    assert row["fit.lwr"] < row["fit.fit"] < row["fit.upr"]
    assert resp.json["info"]["df"] == 27


def test_ranger_takes_data_argument_without_the_caller_knowing(examples):
    resp = examples.simulate_post("/models/warpbreaks_ranger/predict",
                                  json=[{"wool": "A", "tension": "L"}, {"wool": "B", "tension": "H"}])
    assert resp.status_code == 200, resp.text
    assert all(isinstance(p, float) for p in resp.json["predictions"])


@pytest.mark.parametrize("body,content_type,status,needle", [
    ("{not json", "application/json", 400, "not valid JSON"),
    ("", "application/json", 400, "empty"),
    ('{"rows": []}', "application/json", 400, "expected a JSON array"),
    ('[1, 2]', "application/json", 400, "row 1 is not a JSON object"),
    ('{"data": {"wt": [1], "hp": [1, 2]}}', "application/json", 400, "different lengths"),
    ('{"data": [], "args": [1]}', "application/json", 400, "'args' must be a JSON object"),
    ("wt,hp\n1,2,3\n", "text/csv", 400, "expected 2 fields"),
    ("<xml/>", "application/xml", 415, "not accepted"),
    ('[{"wt": "heavy", "hp": 1, "cyl": "6"}]', "application/json", 422, "column 'wt', row 1"),
    ('[{"wt": 1, "hp": 1, "cyl": "5"}]', "application/json", 422, "training levels"),
    ('[{"wt": 1, "cyl": "6"}]', "application/json", 422, "missing column: 'hp'"),
    ('{"data": [{"wt": 1, "hp": 1, "cyl": "6"}], "args": {"type": "bogus"}}', "application/json", 422,
     "is not one of"),
    ('{"data": [{"wt": 1, "hp": 1, "cyl": "6"}], "args": {"newdata": 1}}', "application/json", 422,
     "set by the bridge"),
    ('{"data": [{"wt": 1, "hp": 1, "cyl": "6"}], "args": {"level": {"a": 1}}}', "application/json", 422,
     "argument 'level'"),
])
def test_error_statuses_name_the_fault(examples, body, content_type, status, needle):
    resp = examples.simulate_post("/models/mtcars_lm/predict", body=body,
                                  headers={"Content-Type": content_type})
    assert resp.status_code == status, resp.text
    assert resp.json["title"] and needle in resp.json["description"], resp.text
    ok = examples.simulate_post("/models/mtcars_lm/predict", json=CARS)
    assert ok.status_code == 200, ok.text


def test_unknown_model_is_404(examples):
    for path in ("/models/nope/predict", "/models/..%2fr_models%2fmtcars_lm/predict"):
        resp = examples.simulate_post(path, json=CARS)
        assert resp.status_code == 404, resp.text
    assert examples.simulate_get("/models/nope").status_code == 404


def test_args_are_values_never_code(examples, tmp_path):
    marker = tmp_path / "pwned"
    resp = examples.simulate_post("/models/mtcars_lm/predict", json={
        "data": CARS, "args": {"type": f"system('touch {marker}')"}})
    assert resp.status_code == 422, resp.text
    assert not marker.exists()


@pytest.mark.parametrize("body,content_type", [
    ('{"dataframe_split": {"columns": ["wt", "wt"], "data": [[1, 2]]}}', "application/json"),
    ("wt,hp,wt\n1,2,3\n", "text/csv"),
])
def test_duplicate_column_names_are_400(examples, body, content_type):
    resp = examples.simulate_post("/models/mtcars_lm/predict", body=body,
                                  headers={"Content-Type": content_type})
    assert resp.status_code == 400 and "appears twice" in resp.json["description"], resp.text


def test_flag_given_as_a_string_is_the_callers_mistake(examples):
    resp = examples.simulate_post("/models/mtcars_lm/predict",
                                  json={"data": CARS, "args": {"se.fit": "please"}})
    assert resp.status_code == 422, resp.text


def test_unknown_path_says_so(examples):
    resp = examples.simulate_get("/nowhere")
    assert resp.status_code == 404 and "/nowhere" in resp.json["description"]


def _args_matrix(examples):
    """(model, one row, argument, value) for every choice of every argument the
    example models document, plus booleans and one number, and a refused name."""
    rows = {"mtcars_lm": CARS[0], "infert_glm": {"age": 30, "parity": 2, "induced": 0, "spontaneous": 1},
            "iris_rf": {"Sepal.Length": 5.1, "Sepal.Width": 3.5, "Petal.Length": 1.4, "Petal.Width": 0.2}}
    for name, row in rows.items():
        for arg in examples.simulate_get(f"/models/{name}").json["args"]["accepted"]:
            values = arg.get("choices") or {"boolean": [True, False], "number": [0.9]}.get(arg["type"], [])
            for value in values:
                if value != "terms":      # a matrix of terms per row: another shape, not this test's
                    yield name, row, arg["name"], value


def test_query_string_args_are_the_bodys_args_for_every_body(examples):
    """A JSON body's query string carries predict() arguments as a CSV body's
    does: the same answer (or the same refusal) as the body's `args`."""
    cases = list(_args_matrix(examples))
    assert len(cases) > 10
    for name, row, arg, value in cases:
        in_body = examples.simulate_post(f"/models/{name}/predict", json={"data": [row], "args": {arg: value}})
        query = f"{arg}={json.dumps(value) if not isinstance(value, str) else value}"
        in_query = examples.simulate_post(f"/models/{name}/predict", json=[row], query_string=query)
        assert (in_query.status_code, in_query.json) == (in_body.status_code, in_body.json), (name, arg, value)
        # A name in both places is refused, whatever the two values.
        both = examples.simulate_post(f"/models/{name}/predict", json={"data": [row], "args": {arg: value}},
                                      query_string=query)
        assert both.status_code == 400 and repr(arg) in both.json["description"], both.text


@pytest.mark.parametrize("query", ["na.action=system2", "newdata=x", "type=system('id')", "object=1",
                                   "interval=eval"])
def test_query_string_args_are_checked_like_the_bodys(examples, query):
    name, _, value = query.partition("=")
    in_body = examples.simulate_post("/models/mtcars_lm/predict", json={"data": CARS, "args": {name: value}})
    in_query = examples.simulate_post("/models/mtcars_lm/predict", json=CARS, query_string=query)
    assert in_query.status_code == 422 and in_query.json == in_body.json, in_query.text

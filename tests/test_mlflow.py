"""MLflow's scoring protocol (POST /invocations, /ping, /health, /version) on
real servers, with the payloads MLflow documents (`mlflow models serve`;
pandas' to_dict(orient="split"/"records") and to_csv() as MLflow's own
client builds them), each compared with R's own predictions."""

import json

import pandas as pd
import pytest
import requests

import bridge
from conftest import EXAMPLES, copy_model

CASES = ["lm_factor", "glm_binomial", "randomforest_class_prob", "ranger_class_prob", "lm_types"]


def case(fixture_models, name):
    return json.loads((fixture_models / f"{name}.case.json").read_text())


def frame(rows):
    return pd.DataFrame.from_records(rows)


def payloads(rows, args):
    """(label, body, content type, query) for each of MLflow's input formats."""
    df = frame(rows)
    params = {"params": args} if args else {}
    columns = {c: [r.get(c) for r in rows] for c in df.columns}
    yield "dataframe_split", {"dataframe_split": json.loads(df.to_json(orient="split")), **params}
    yield "dataframe_records", {"dataframe_records": rows, **params}
    yield "instances", {"instances": rows, **params}
    yield "inputs", {"inputs": columns, **params}
    yield "inputs_records", {"inputs": rows, **params}


def post(url, model, body, content_type="application/json", query=None):
    params = dict(query or {})
    if model:
        params["model"] = model
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(url + "/invocations", data=data, params=params, timeout=60,
                         headers={"Content-Type": content_type})


@pytest.mark.parametrize("name", CASES)
def test_every_mlflow_format_gives_rs_predictions(fixtures_server, fixture_models, name):
    c = case(fixture_models, name)
    for label, body in payloads(c["rows"], c["args"]):
        r = post(fixtures_server.url, c["model"], body)
        assert r.status_code == 200, (label, r.text)
        assert r.json() == {"predictions": c["expected"]}, label


@pytest.mark.parametrize("name", ["lm_factor", "randomforest_class_prob"])
@pytest.mark.parametrize("index", [False, True], ids=["no_index", "pandas_index"])
def test_csv_as_pandas_writes_it(fixtures_server, fixture_models, name, index):
    c = case(fixture_models, name)
    text = frame(c["rows"]).to_csv(index=index, na_rep="NA")
    r = post(fixtures_server.url, c["model"], text.encode(), "text/csv", query=c["args"])
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": c["expected"]}


@pytest.fixture(scope="module")
def one_model(tmp_path_factory):
    from conftest import Server

    folder = tmp_path_factory.mktemp("one-model")
    copy_model(EXAMPLES / "mtcars_lm.rds", folder)
    server = Server(folder, "--reload-interval", "0")
    yield server
    server.stop()


def test_one_served_model_needs_no_name(one_model):
    body = {"dataframe_split": {"columns": ["wt", "hp", "cyl"], "data": [[2.62, 110, "6"]]}}
    r = post(one_model.url, None, body)
    assert r.status_code == 200, r.text
    native = requests.post(one_model.url + "/models/mtcars_lm/predict", timeout=30,
                           json=[{"wt": 2.62, "hp": 110, "cyl": "6"}]).json()
    assert r.json()["predictions"] == native["predictions"]


def test_ping_health_and_version(one_model):
    for path in ("/ping", "/health"):
        r = requests.get(one_model.url + path, timeout=10)
        assert r.status_code == 200, (path, r.text)
    r = requests.get(one_model.url + "/version", timeout=10)
    assert r.status_code == 200 and r.text == bridge.__version__


@pytest.mark.parametrize("body,status,code,needle", [
    ({"dataframe_records": [{"wt": 1, "hp": 1, "cyl": "6"}],
      "instances": [{"wt": 1, "hp": 1, "cyl": "6"}]}, 400, "BAD_REQUEST", "exactly one"),
    ({"data": [{"wt": 1}]}, 400, "BAD_REQUEST", "exactly one"),
    ([{"wt": 1, "hp": 1, "cyl": "6"}], 400, "BAD_REQUEST", "JSON object"),
    ({"instances": [[1, 1, "6"]]}, 400, "BAD_REQUEST", "dataframe_split"),
    ({"inputs": [[1, 1, "6"]]}, 400, "BAD_REQUEST", "dataframe_split"),
    ({"dataframe_records": [{"wt": 1, "hp": 1, "cyl": "5"}]}, 422, "INVALID_PARAMETER_VALUE", "'cyl'"),
    ({"dataframe_records": [{"wt": 1, "hp": 1}]}, 422, "INVALID_PARAMETER_VALUE", "cyl"),
    ({"dataframe_records": [{"wt": 1, "hp": 1, "cyl": "6"}], "params": {"interval": "nope"}},
     422, "INVALID_PARAMETER_VALUE", "interval"),
])
def test_errors_are_mlflows_shape_with_the_bridges_status(one_model, body, status, code, needle):
    r = post(one_model.url, None, body)
    assert r.status_code == status, r.text
    assert r.json()["error_code"] == code
    assert needle in r.json()["message"], r.text


def test_malformed_json_and_other_content_types(one_model):
    r = post(one_model.url, None, b'{"dataframe_records": [', "application/json")
    assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST"
    r = post(one_model.url, None, b"wt=1", "text/plain")
    assert r.status_code == 415, r.text


def test_several_models_need_a_name(fixtures_server):
    body = {"dataframe_records": [{"x": 1}]}
    r = post(fixtures_server.url, None, body)
    assert r.status_code == 400 and "?model=NAME" in r.json()["message"], r.text
    r = post(fixtures_server.url, "no_such_model", body)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", r.text


def test_a_plumber_files_own_health_route_stays_its_own(start_server, model_dir, tmp_path):
    api = tmp_path / "api"
    api.mkdir()
    (api / "health.R").write_text('#* @get /health\nfunction() list(from = "plumber")\n')
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    server = start_server(model_dir, "--reload-interval", "0", "--plumber-dir", str(api))
    assert requests.get(server.url + "/health", timeout=10).json() == {"from": ["plumber"]}
    assert requests.get(server.url + "/ping", timeout=10).status_code == 200
    r = post(server.url, None, {"dataframe_records": [{"wt": 2.62, "hp": 110, "cyl": "6"}]})
    assert r.status_code == 200, r.text

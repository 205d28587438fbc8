"""The Open Inference Protocol through the real tritonclient, against a real
server, compared with the predictions R itself makes."""

import json

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from conftest import rscript

NUMPY = {"FP64": np.float64, "INT32": np.int32, "BOOL": np.bool_, "BYTES": np.object_}


@pytest.fixture(scope="module")
def fixture_server(fixtures_server):
    return fixtures_server


@pytest.fixture(scope="module")
def example_server(examples_server):
    return examples_server


def client_for(server):
    return triton.InferenceServerClient(url=server.url.removeprefix("http://"))


def infer(client, name, rows, args=None, binary=True):
    """Rows -> tensors typed by the model's own metadata, as a user would."""
    meta = client.get_model_metadata(name)
    inputs = []
    for spec in meta["inputs"]:
        values = [row.get(spec["name"]) for row in rows]
        if spec["datatype"] == "BYTES":
            arr = np.array([v.encode() for v in values], dtype=np.object_)
        elif spec["datatype"] == "FP64":
            arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            arr = np.array(values, dtype=NUMPY[spec["datatype"]])
        tensor = triton.InferInput(spec["name"], [len(rows)], spec["datatype"])
        tensor.set_data_from_numpy(arr, binary_data=binary)
        inputs.append(tensor)
    return client.infer(name, inputs, parameters=args or None)


def outputs_of(result):
    out = {}
    for spec in result.get_response()["outputs"]:
        arr = result.as_numpy(spec["name"])
        out[spec["name"]] = [v.decode() if isinstance(v, bytes) else v for v in arr.tolist()]
    return out


def assert_equal_to_r(got, expected):
    if expected and isinstance(expected[0], dict):
        expected = {k: [row[k] for row in expected] for k in expected[0]}
    else:
        expected = {"prediction": expected}
    assert list(got) == list(expected)
    for name, values in expected.items():
        for g, e in zip(got[name], values, strict=True):
            if e is None:
                assert g is None or g != g, (name, got[name], values)
            elif isinstance(e, str):
                assert g == e, (name, got[name], values)
            else:
                assert g == pytest.approx(e, rel=1e-12, abs=1e-300), (name, got[name], values)


def test_every_fixture_model_through_tritonclient(fixture_server, fixture_models, subtests):
    client = client_for(fixture_server)
    cases = sorted(fixture_models.glob("*.case.json"))
    assert len(cases) >= 19
    for path in cases:
        case = json.loads(path.read_text())
        with subtests.test(case=path.name):
            meta = client.get_model_metadata(case["model"])
            text_inputs = {s["name"] for s in meta["inputs"] if s["datatype"] == "BYTES"}
            # A BYTES tensor has no NA (tritonclient sends None as "None"): those rows
            # are covered by test_json_null_is_na below.
            keep = [i for i, row in enumerate(case["rows"])
                    if not any(row.get(n) is None for n in text_inputs)]
            rows = [case["rows"][i] for i in keep]
            expected = [case["expected"][i] for i in keep]
            result = infer(client, case["model"], rows, case["args"])
            assert_equal_to_r(outputs_of(result), expected)


EXPECTED_R = r"""
nd_mt <- data.frame(wt = c(2.5, 3.1, 4.2), hp = c(110, 95, 230),
                    cyl = factor(c("4", "6", "8"), levels = c("4", "6", "8")))
nd_inf <- data.frame(age = c(26, 33, 41), parity = c(1, 2, 4),
                     education = factor(c("0-5yrs", "6-11yrs", "12+ yrs"),
                                        levels = c("0-5yrs", "6-11yrs", "12+ yrs")),
                     spontaneous = c(0, 1, 2), induced = c(1, 0, 2))
nd_iris <- data.frame(Sepal.Length = c(5.0, 6.1, 7.2), Sepal.Width = c(3.4, 2.8, 3.0),
                      Petal.Length = c(1.5, 4.6, 6.0), Petal.Width = c(0.2, 1.3, 2.1))
nd_wb <- data.frame(wool = factor(c("A", "B", "B"), levels = c("A", "B")),
                    tension = factor(c("L", "M", "H"), levels = c("L", "M", "H")))
suppressPackageStartupMessages({library(randomForest); library(ranger)})
load("r_models/infert_glm.rda")
out <- list(
  mtcars_lm = unname(predict(readRDS("r_models/mtcars_lm.rds"), nd_mt)),
  infert_glm = unname(predict(infert_glm, nd_inf, type = "response")),
  iris_rf = as.character(predict(readRDS("r_models/iris_rf.rds"), nd_iris)),
  iris_rf_prob = as.data.frame(unclass(predict(readRDS("r_models/iris_rf.rds"), nd_iris, type = "prob"))),
  warpbreaks_ranger = predict(readRDS("r_models/warpbreaks_ranger.rds"), data = nd_wb,
                              num.threads = 1)$predictions,
  rows = list(mtcars_lm = nd_mt, infert_glm = nd_inf, iris_rf = nd_iris, warpbreaks_ranger = nd_wb))
cat(jsonlite::toJSON(out, digits = I(17), dataframe = "rows", factor = "string"))
"""


def test_every_example_model_through_tritonclient(example_server, subtests):
    from conftest import ROOT

    r = json.loads(rscript(EXPECTED_R, cwd=ROOT))
    client = client_for(example_server)
    calls = [("mtcars_lm", {}, r["mtcars_lm"]),
             ("infert_glm", {"type": "response"}, r["infert_glm"]),
             ("iris_rf", {}, r["iris_rf"]),
             ("iris_rf", {"type": "prob"}, r["iris_rf_prob"]),
             ("warpbreaks_ranger", {}, r["warpbreaks_ranger"])]
    for name, args, expected in calls:
        for binary in (True, False):
            with subtests.test(model=name, args=args, binary=binary):
                result = infer(client, name, r["rows"][name], args, binary=binary)
                assert result.get_response()["model_name"] == name
                assert_equal_to_r(outputs_of(result), expected)


def test_health_metadata_and_readiness(example_server):
    client = client_for(example_server)
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("iris_rf")
    assert not client.is_model_ready("no_such_model")
    server = client.get_server_metadata()
    assert server["name"] == "r-bridge"
    meta = client.get_model_metadata("mtcars_lm")
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("wt", "FP64"), ("hp", "FP64"), ("cyl", "BYTES")]
    assert meta["outputs"] == [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
    assert client.get_model_metadata("iris_rf")["outputs"][0]["datatype"] == "BYTES"


def test_errors_come_back_as_the_protocol_says(example_server):
    client = client_for(example_server)
    with pytest.raises(InferenceServerException, match="no model named 'nope'"):
        client.get_model_metadata("nope")
    rows = [{"wt": 2.5, "hp": 110, "cyl": "5"}]
    with pytest.raises(InferenceServerException, match="one of the training levels") as err:
        infer(client, "mtcars_lm", rows)
    assert err.value.status() == "400"
    tensor = triton.InferInput("wt", [1], "FP64")
    tensor.set_data_from_numpy(np.array([2.5]))
    with pytest.raises(InferenceServerException, match="missing columns: 'hp', 'cyl'"):
        client.infer("mtcars_lm", [tensor])


def test_requested_outputs_and_shape_n_by_1(example_server):
    import requests

    body = {"inputs": [
        {"name": "Sepal.Length", "shape": [2, 1], "datatype": "FP64", "data": [[5.0], [7.2]]},
        {"name": "Sepal.Width", "shape": [2, 1], "datatype": "FP64", "data": [[3.4], [3.0]]},
        {"name": "Petal.Length", "shape": [2, 1], "datatype": "FP32", "data": [1.5, 6.0]},
        {"name": "Petal.Width", "shape": [2, 1], "datatype": "FP64", "data": [0.2, 2.1]}],
        "parameters": {"type": "prob"}, "outputs": [{"name": "virginica"}], "id": "42"}
    r = requests.post(example_server.url + "/v2/models/iris_rf/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == "42"
    assert [o["name"] for o in out["outputs"]] == ["virginica"]
    assert out["outputs"][0]["shape"] == [2]
    body["outputs"] = [{"name": "nonesuch"}]
    r = requests.post(example_server.url + "/v2/models/iris_rf/infer", json=body, timeout=30)
    assert r.status_code == 400, r.text
    assert "no output 'nonesuch'" in r.json()["error"]


def test_json_null_is_na(client, fixture_models):
    case = json.loads((fixture_models / "lm_factor.case.json").read_text())
    rows = case["rows"]
    kinds = {"wt": "FP64", "cyl": "BYTES", "power": "BYTES", "gear": "INT32"}
    body = {"inputs": [{"name": n, "datatype": t, "shape": [len(rows)],
                        "data": [row[n] for row in rows]} for n, t in kinds.items()]}
    r = client.simulate_post("/v2/models/lm_factor/infer", json=body)
    assert r.status_code == 200, r.text
    assert r.json["outputs"][0]["data"] == case["expected"]


@pytest.mark.parametrize("body, message", [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b'{"inputs": {}}', "'inputs' array"),
    (b'{"inputs": [{"name": "wt", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}',
     "shape [1, 2] is not a column"),
    (b'{"inputs": [{"name": "wt", "shape": [2], "datatype": "FP64", "data": [1]}]}',
     "holds 2 values"),
    (b'{"inputs": [{"name": "wt", "shape": [1], "datatype": "BF16", "data": [1]}]}',
     "not supported"),
    (b'{"inputs": [{"name": "wt", "shape": [1], "datatype": "FP64", "data": ["a"]}]}',
     "is not FP64 data"),
])
def test_malformed_requests_are_400(client, body, message):
    r = client.simulate_post("/v2/models/lm_factor/infer", body=body,
                             headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert message in r.json["error"]


def test_readiness_follows_the_process_state(registry):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.http.health import Readiness

    readiness = Readiness()
    client = testing.TestClient(create_app(registry, readiness=readiness))
    assert client.simulate_get("/v2/health/ready").status_code == 503
    assert client.simulate_get("/v2/models/lm_factor/ready").status_code == 503
    assert client.simulate_get("/v2/health/live").status_code == 200
    readiness.set_ready()
    assert client.simulate_get("/v2/health/ready").json == {"ready": True}
    assert client.simulate_get("/v2/models/lm_factor/ready").json == {"name": "lm_factor", "ready": True}
    readiness.set_draining()
    assert client.simulate_get("/v2/health/ready").status_code == 503


def test_api_keys_guard_inference_but_not_probes_or_the_docs_page(registry):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.settings import Settings

    client = testing.TestClient(create_app(registry, Settings(api_keys="k1")))
    for path in ("/v2/health/live", "/v2/health/ready", "/docs", "/docs/static/init.js"):
        assert client.simulate_get(path).status_code == 200, path
    for path in ("/v2", "/v2/models/lm_factor"):
        assert client.simulate_get(path).status_code == 401, path
    # without a key the OpenAPI document is only its security scheme (no model is named)
    doc = client.simulate_get("/openapi.json")
    assert doc.status_code == 200 and "lm_factor" not in doc.text and doc.json["components"]["securitySchemes"]
    body = {"inputs": [{"name": "wt", "shape": [1], "datatype": "FP64", "data": [2.5]}]}
    assert client.simulate_post("/v2/models/lm_factor/infer", json=body).status_code == 401
    r = client.simulate_get("/v2/models/lm_factor", headers={"Authorization": "Bearer k1"})
    assert r.status_code == 200, r.text


def test_row_limit_applies_to_inference(registry):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.settings import Settings

    client = testing.TestClient(create_app(registry, Settings(max_rows=2)))
    body = {"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", "data": [1, 2, 3]}]}
    r = client.simulate_post("/v2/models/loess_reg/infer", json=body)
    assert r.status_code == 413, r.text
    assert "at most 2" in r.json["error"]

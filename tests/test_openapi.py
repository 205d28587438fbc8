"""GET /openapi.json, GET /docs and Accept: text/csv, in-process on the fixture models."""

import csv
import io
import json

import jsonschema_rs
import pytest

from conftest import EXAMPLES, copy_model


@pytest.fixture(scope="module")
def doc(client):
    r = client.simulate_get("/openapi.json")
    assert r.status_code == 200, r.text
    return r.json


def predict_op(doc, name):
    return doc["paths"][f"/models/{name}/predict"]["post"]


def json_body(op):
    return op["requestBody"]["content"]["application/json"]


def test_one_predict_operation_per_model(doc, registry):
    assert doc["openapi"] == "3.1.0"
    predict_paths = {p for p in doc["paths"] if p.endswith("/predict")}
    assert predict_paths == {f"/models/{n}/predict" for n in registry.models()}
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_row_schema_types_levels_and_formats(doc):
    rows = json_body(predict_op(doc, "lm_factor"))["schema"]["anyOf"][0]
    row = rows["items"]
    assert rows["type"] == "array"
    assert row["required"] == ["wt", "cyl", "power", "gear"]
    assert row["properties"]["cyl"] == {"type": ["string", "null"], "enum": ["4", "6", "8"]}
    # Ordered levels keep R's order, not the alphabet's.
    assert row["properties"]["power"]["enum"] == ["low", "mid", "high"]
    assert row["properties"]["gear"]["type"] == ["integer", "null"]
    assert row["properties"]["gear"]["maximum"] == 2**31 - 1
    types = json_body(predict_op(doc, "lm_types"))["schema"]["anyOf"][0]["items"]["properties"]
    assert types["day"] == {"type": ["string", "null"], "format": "date"}
    assert types["flag"] == {"type": ["boolean", "null"]}


@pytest.mark.parametrize("name", ["lm_factor", "lm_types", "glm_binomial", "randomforest_class",
                                  "ranger_class_prob", "rpart_class", "multi.second"])
def test_examples_are_valid_and_predict(doc, client, name):
    op = predict_op(doc, name)
    body = json_body(op)
    validator = jsonschema_rs.Draft202012Validator(body["schema"])
    ok = op["responses"]["200"]["content"]["application/json"]
    response_validator = jsonschema_rs.Draft202012Validator(ok["schema"])
    for label, example in body["examples"].items():
        assert validator.is_valid(example["value"]), (label, example["value"])
        r = client.simulate_post(f"/models/{name}/predict", json=example["value"])
        assert r.status_code == 200, (label, r.text)
        assert response_validator.is_valid(r.json), (label, r.text)
        assert r.json["predictions"][0] == ok["example"]["predictions"][0]
        default = jsonschema_rs.Draft202012Validator(
            ok["schema"]["properties"]["predictions"]["items"]["anyOf"][0])
        assert all(default.is_valid(p) for p in r.json["predictions"]), r.text
    csv_example = op["requestBody"]["content"]["text/csv"]["example"]
    r = client.simulate_post(f"/models/{name}/predict", body=csv_example,
                             headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text


def test_example_is_built_from_the_schema_not_training_rows(doc):
    row = json_body(predict_op(doc, "randomforest_class"))["examples"]["rows"]["value"][0]
    assert row == {"Sepal.Length": 1.5, "Sepal.Width": 1.5, "Petal.Length": 1.5,
                   "Petal.Width": 1.5, "soil": "sand"}


def test_response_schema_per_model(doc):
    def items(name):
        schema = predict_op(doc, name)["responses"]["200"]["content"]["application/json"]["schema"]
        default, other = schema["properties"]["predictions"]["items"]["anyOf"]
        assert other["title"] == "with other predict() arguments"
        default.pop("title")
        return default

    assert items("randomforest_class") == {"type": ["string", "null"]}
    assert items("lm_factor") == {"type": ["number", "null"]}
    prob = items("ranger_class_prob")
    assert prob["type"] == "object"
    assert prob["required"] == ["setosa", "versicolor", "virginica"]


def test_error_responses_are_documented(doc):
    responses = predict_op(doc, "lm_factor")["responses"]
    for status in ("400", "404", "415", "422", "500"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["title", "description"]


def test_document_follows_the_model_folder(model_dir, pool):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.registry import Registry

    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    registry = Registry(model_dir, pool)
    registry.scan()
    client = testing.TestClient(create_app(registry))
    first = client.simulate_get("/openapi.json")
    assert list(p for p in first.json["paths"] if p.endswith("/predict")) == ["/models/mtcars_lm/predict"]
    copy_model(EXAMPLES / "iris_rf.rds", model_dir)
    registry.scan()
    second = client.simulate_get("/openapi.json")
    assert "/models/iris_rf/predict" in second.json["paths"]
    assert "/v2/models/iris_rf/infer" in second.json["paths"]
    (model_dir / "mtcars_lm.rds").unlink()
    registry.scan()
    third = client.simulate_get("/openapi.json")
    assert "/models/mtcars_lm/predict" not in third.json["paths"]


def test_docs_page_uses_local_assets_only(client):
    r = client.simulate_get("/docs")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "//" not in r.text.replace("<!doctype html>", "")  # no absolute (CDN) URL
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js"):
        assert f"docs/static/{asset}" in r.text
        got = client.simulate_get(f"/docs/static/{asset}")
        assert got.status_code == 200, asset
        assert len(got.content) > 100
    assert "openapi.json" in client.simulate_get("/docs/static/init.js").text


# ---- Accept: text/csv -------------------------------------------------------------


def case(fixture_models, name):
    return json.loads((fixture_models / f"{name}.case.json").read_text())


def test_csv_response_holds_rs_predictions(client, fixture_models):
    c = case(fixture_models, "lm_factor")
    r = client.simulate_post("/models/lm_factor/predict", json=c["rows"],
                             headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(r.text)))
    assert lines[0] == ["prediction"]
    got = [None if v == "NA" else float(v) for (v,) in lines[1:]]
    assert got == c["expected"]


def test_csv_response_of_a_table_prediction(client, fixture_models):
    c = case(fixture_models, "ranger_class_prob")
    r = client.simulate_post("/models/ranger_class_prob/predict", json=c["rows"],
                             headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [{k: float(v) for k, v in row.items()} for row in rows] == c["expected"]


def test_json_stays_the_default(client, fixture_models):
    c = case(fixture_models, "lm_types")
    for accept in (None, "*/*", "application/json", "application/json, text/csv;q=0.5"):
        r = client.simulate_post("/models/lm_types/predict", json=c["rows"],
                                 headers={"Accept": accept} if accept else {})
        assert r.status_code == 200, r.text
        assert r.json["predictions"] == c["expected"], accept


def test_csv_body_takes_args_from_the_query_string(client, fixture_models):
    c = case(fixture_models, "randomforest_class_prob")
    names = list(c["rows"][0])
    body = ",".join(names) + "\n" + "".join(
        ",".join(str(row[n]) for n in names) + "\n" for row in c["rows"])
    r = client.simulate_post("/models/randomforest_class/predict", body=body,
                             headers={"Content-Type": "text/csv"}, query_string="type=prob")
    assert r.status_code == 200, r.text
    assert r.json["predictions"] == c["expected"]


# ---- the whole document, predict() arguments, security (issue 12) -----------------

from openapi_spec_validator import OpenAPIV31SpecValidator  # noqa: E402
import requests  # noqa: E402

from conftest import ROOT, rscript  # noqa: E402


def spec_errors(doc):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in OpenAPIV31SpecValidator(doc).iter_errors()]


def test_the_whole_document_is_valid_openapi_3_1(doc):
    assert spec_errors(doc) == []


def test_the_validator_refuses_a_media_type_with_a_description(doc):
    # The fault this document used to have: the check is not vacuous.
    broken = json.loads(json.dumps(doc))
    op = predict_op(broken, "lm_factor")
    op["responses"]["200"]["content"]["text/csv"]["description"] = "CSV"
    assert spec_errors(broken)


R_FORMALS = r"""
for (f in list.files("r_scripts/bridge", "[.]R$", full.names = TRUE)) source(f)
m <- readRDS(file.path("{folder}", "{name}.rds"))
bridge_load_packages(bridge_model_packages(m))
method <- bridge_predict_method(m)$fn
out <- lapply(formals(method)[-1], function(d) {
  if (identical(d, quote(expr = ))) return(list(kind = "missing"))
  if (is.language(d) && !(is.call(d) && identical(d[[1]], as.name("c")))) return(list(kind = "code"))
  v <- tryCatch(eval(d), error = function(e) NULL)
  if (is.null(v) || is.function(v)) return(list(kind = "null"))
  list(kind = typeof(v), values = v)
})
cat(jsonlite::toJSON(out, auto_unbox = FALSE, null = "null", digits = NA))
"""

TYPES = {"logical": "boolean", "double": "number", "integer": "number", "character": "string"}


def scalar_of(schema):
    """The scalar schema of an argument that may also be a list of them."""
    return schema["anyOf"][0] if "anyOf" in schema and "type" in schema["anyOf"][0] else schema


@pytest.mark.parametrize("name", ["lm_factor", "glm_binomial", "randomforest_class", "ranger_reg",
                                  "rpart_class", "gbm_reg", "loess_reg", "nnet_class"])
def test_args_are_the_allowed_formals_typed_by_rs_defaults(doc, client, fixture_models, name):
    """Each documented argument is a formal of the method R dispatches to,
    typed as R's own default says (a c("a", "b") default is an enum of
    exactly those); the others are the ones the model refuses."""
    r = json.loads(rscript(R_FORMALS.replace("{folder}", str(fixture_models)).replace("{name}", name), cwd=ROOT))
    for formal in r.values():
        formal["kind"] = formal["kind"][0]
    body = json_body(predict_op(doc, name))["schema"]["anyOf"][1]["properties"]["args"]
    documented = body["properties"]
    assert body["additionalProperties"] is False
    for arg, schema in documented.items():
        assert arg in r, f"{arg} is not a formal of {name}'s predict method"
        formal = r[arg]
        if formal["kind"] in ("missing", "null", "code"):
            continue
        values, scalar = formal["values"], scalar_of(schema)
        if formal["kind"] == "character" and len(values) > 1:   # c("a", "b"): a choice
            assert scalar == {"type": "string", "enum": values}, arg
        elif len(values) == 1:
            assert scalar["type"] == TYPES[formal["kind"]] and "enum" not in scalar, arg
    refused = client.simulate_get(f"/models/{name}").json["args"]["refused"]
    for arg in r:
        assert (arg in documented) != (arg in refused), f"{arg}: documented or refused, one of the two"
    # In the query string too (where a CSV body takes them).
    params = predict_op(doc, name).get("parameters", [])
    assert [p["name"] for p in params] == list(documented)


def test_documented_choices_are_what_r_accepts(doc, client):
    """lm's `interval` and glm's `type`: every documented value predicts,
    and a value outside them is a 422."""
    for name, arg in (("lm_factor", "interval"), ("glm_binomial", "type")):
        op = predict_op(doc, name)
        row = json_body(op)["examples"]["rows"]["value"][0]
        choices = scalar_of(json_body(op)["schema"]["anyOf"][1]["properties"]["args"]["properties"][arg])["enum"]
        for value in choices:
            if value == "terms":
                continue  # a matrix of terms per row: documented, but another shape
            r = client.simulate_post(f"/models/{name}/predict", json={"data": [row], "args": {arg: value}})
            assert r.status_code == 200, (arg, value, r.text)
        r = client.simulate_post(f"/models/{name}/predict", json={"data": [row], "args": {arg: "nope"}})
        assert r.status_code == 422, r.text


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    from conftest import Server

    folder = tmp_path_factory.mktemp("keyed")
    for path in EXAMPLES.glob("*.rd*"):
        copy_model(path, folder)
    server = Server(folder, "--reload-interval", "0", env={"BRIDGE_API_KEYS": "k1"})
    yield server
    server.stop()


def test_with_keys_the_document_names_its_security_scheme(keyed):
    public = requests.get(keyed.url + "/openapi.json", timeout=30)
    assert public.status_code == 200
    assert spec_errors(public.json()) == []
    assert public.json()["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    # Without a key: no model in it.
    assert not [p for p in public.json()["paths"] if p.startswith("/models")]
    full = requests.get(keyed.url + "/openapi.json", headers={"Authorization": "Bearer k1"}, timeout=30)
    assert full.status_code == 200
    assert spec_errors(full.json()) == []
    assert "/models/mtcars_lm/predict" in full.json()["paths"]
    assert full.json()["security"] == [{"bearerAuth": []}, {"apiKeyHeader": []}]
    assert full.json()["paths"]["/v2/health/ready"]["get"]["security"] == []
    by_header = requests.get(keyed.url + "/openapi.json", headers={"X-API-Key": "k1"}, timeout=30)
    assert by_header.json() == full.json()
    wrong = requests.get(keyed.url + "/openapi.json", headers={"Authorization": "Bearer k9"}, timeout=30)
    assert wrong.status_code == 401, wrong.text


def test_without_keys_the_served_document_is_valid_and_open(examples_server):
    got = requests.get(examples_server.url + "/openapi.json", timeout=30).json()
    assert spec_errors(got) == []
    assert "securitySchemes" not in got["components"] and "security" not in got

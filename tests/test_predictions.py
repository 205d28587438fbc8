"""For every supported model class, the bridge answers what R's own predict()
answers on the same rows (computed by r_scripts/train_fixtures.R in R)."""

import json
import math

import pytest

from conftest import close




def case_files(folder):
    return sorted(folder.glob("*.case.json"))




EXPECTED_CLASSES = {
    "lm_factor", "lm_types", "glm_binomial", "glm_poisson_offset", "randomforest_class",
    "randomforest_class_prob", "ranger_reg", "ranger_class_prob", "rpart_class", "svm_ptype",
    "gam_mgcv", "gbm_reg", "glmnet_reg", "cvglmnet_reg", "nnet_class", "caret_train", "loess_reg",
    "nls_reg", "multi.first", "multi.second", "ordered_only_lm",
}


def test_every_class_has_a_case(fixture_models):
    names = {p.name[: -len(".case.json")] for p in case_files(fixture_models)}
    assert EXPECTED_CLASSES <= names


def test_every_fixture_loads(client):
    listing = client.simulate_get("/models").json["models"]
    failed = [m for m in listing if m["status"] != "loaded"]
    assert not failed, failed


@pytest.mark.parametrize("case", sorted(EXPECTED_CLASSES))
@pytest.mark.parametrize("shape", ["rows", "columns", "dataframe_split"])
def test_http_prediction_equals_r(client, fixture_models, case, shape):
    spec = json.loads((fixture_models / f"{case}.case.json").read_text())
    rows = spec["rows"]
    if shape == "rows":
        body = {"data": rows, "args": spec["args"]}
    elif shape == "columns":
        names = list(dict.fromkeys(k for row in rows for k in row))
        body = {"data": {n: [row.get(n) for row in rows] for n in names}, "args": spec["args"]}
    else:
        names = list(dict.fromkeys(k for row in rows for k in row))
        body = {"dataframe_split": {"columns": names, "data": [[row.get(n) for n in names] for row in rows]},
                "params": spec["args"]}
    resp = client.simulate_post(f"/models/{spec['model']}/predict", json=body)
    assert resp.status_code == 200, resp.text
    got = resp.json["predictions"]
    assert len(got) == len(spec["expected"])
    for i, (g, w) in enumerate(zip(got, spec["expected"])):
        assert close(g, w), f"row {i + 1}: bridge {g!r} != R {w!r}"


def test_python_api_equals_r(fixture_models):
    import pandas as pd

    from bridge import load_model

    spec = json.loads((fixture_models / "lm_factor.case.json").read_text())
    model = load_model(fixture_models / "lm_factor.rds")
    got = model.predict(pd.DataFrame(spec["rows"]), **spec["args"])
    assert isinstance(got, pd.Series)
    for g, w in zip(got.tolist(), spec["expected"]):
        assert (w is None and math.isnan(g)) or math.isclose(g, w, rel_tol=1e-9)


def test_packages_are_found_without_being_named(client):
    described = client.simulate_get("/models/ranger_reg").json
    assert "ranger" in described["packages"]
    assert "randomForest" in client.simulate_get("/models/randomforest_class").json["packages"]
    assert "e1071" in client.simulate_get("/models/svm_ptype").json["packages"]

"""The model folder: naming, sidecars, failures, hot reload."""

import json
import math
import os
import shutil

import pytest
from falcon import testing

from bridge.http.app import create_app
from bridge.registry import Registry
from conftest import EXAMPLES, copy_model, rscript

CARS = [{"wt": 2.62, "hp": 110, "cyl": "6"}]


@pytest.fixture
def folder(tmp_path, pool):
    path = tmp_path / "models"
    path.mkdir()
    reg = Registry(path, pool)
    return path, reg, testing.TestClient(create_app(reg))


def names(client):
    return {m["name"]: m["status"] for m in client.simulate_get("/models").json["models"]}


def test_rda_with_several_models_serves_each_and_skips_data(folder, fixture_models):
    path, reg, client = folder
    copy_model(fixture_models / "multi.rda", path)
    reg.scan()
    assert names(client) == {"multi.first": "loaded", "multi.second": "loaded"}


def test_extension_case_does_not_matter(folder):
    path, reg, client = folder
    copy_model(EXAMPLES / "infert_glm.rda", path, "INFERT.RData")
    reg.scan()
    assert names(client) == {"INFERT": "loaded"}


def test_a_broken_file_is_reported_and_others_still_served(folder):
    path, reg, client = folder
    copy_model(EXAMPLES / "mtcars_lm.rds", path)
    (path / "corrupt.rds").write_bytes(b"this is not an R file")
    rscript(f'x <- data.frame(a = 1); save(x, file = "{path / "nomodel.rda"}")')
    reg.scan()
    listing = {m["name"]: m for m in client.simulate_get("/models").json["models"]}
    assert listing["mtcars_lm"]["status"] == "loaded"
    assert listing["corrupt"]["status"] == "error" and "could not read" in listing["corrupt"]["error"]
    assert listing["nomodel"]["status"] == "error" and "predict" in listing["nomodel"]["error"]
    assert client.simulate_post("/models/mtcars_lm/predict", json=CARS).status_code == 200
    assert client.simulate_post("/models/corrupt/predict", json=CARS).status_code == 404


def test_changed_file_is_reloaded_and_failed_reload_keeps_old_version(folder, fixture_models):
    path, reg, client = folder
    target = path / "m.rds"
    shutil.copy(EXAMPLES / "mtcars_lm.rds", target)
    reg.scan()
    first = client.simulate_post("/models/m/predict", json=CARS).json["predictions"]

    # A different model under the same name: served after the next scans.
    rscript(f'cars <- transform(mtcars, cyl = factor(cyl)); saveRDS(lm(mpg ~ wt + cyl, cars), "{target}.new")')
    os.replace(f"{target}.new", target)
    reg.scan(settle=True)   # first sight of the change: waits for the file to settle
    assert client.simulate_post("/models/m/predict", json=CARS).json["predictions"] == first
    reg.scan(settle=True)
    second = client.simulate_post("/models/m/predict", json=CARS).json["predictions"]
    assert not math.isclose(first[0], second[0])

    # A broken replacement: the previous version keeps serving, the error shows.
    target.write_bytes(b"garbage")
    reg.scan()
    assert client.simulate_post("/models/m/predict", json=CARS).json["predictions"] == second
    entry = next(m for m in client.simulate_get("/models").json["models"] if m["name"] == "m")
    assert entry["status"] == "loaded" and "could not read" in entry["reload_error"]

    target.unlink()
    reg.scan()
    assert client.simulate_post("/models/m/predict", json=CARS).status_code == 404


def test_sidecar_json_gives_default_args_and_description(folder, fixture_models):
    path, reg, client = folder
    copy_model(fixture_models / "glm_binomial.rds", path)
    (path / "glm_binomial.json").write_text(json.dumps(
        {"description": "infertility risk", "version": "2.1", "args": {"type": "response"}}))
    reg.scan()
    meta = client.simulate_get("/models/glm_binomial").json
    assert (meta["description"], meta["version"], meta["default_args"]) == \
        ("infertility risk", "2.1", {"type": "response"})
    spec = json.loads((fixture_models / "glm_binomial.case.json").read_text())
    assert spec["args"] == {"type": "response"}
    got = client.simulate_post("/models/glm_binomial/predict", json=spec["rows"]).json["predictions"]
    assert all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, spec["expected"]))
    # The caller's args win over the defaults.
    link = client.simulate_post("/models/glm_binomial/predict",
                                json={"data": spec["rows"], "args": {"type": "link"}}).json["predictions"]
    assert all(l != g for l, g in zip(link, got))


def test_sidecar_predict_fn_replaces_predict(folder, fixture_models):
    path, reg, client = folder
    copy_model(fixture_models / "glmnet_reg.rds", path, "net.rds")
    (path / "net.R").write_text(
        "predict_fn <- function(model, newdata, scale = 1) {\n"
        "  x <- as.matrix(newdata[, c('x1', 'x2', 'x3', 'x4')])\n"
        "  scale * as.numeric(predict(model, newx = x, s = 0.01))\n"
        "}\n")
    reg.scan()
    spec = json.loads((fixture_models / "glmnet_reg.case.json").read_text())
    resp = client.simulate_post("/models/net/predict", json={"data": spec["rows"], "args": {"scale": 2}})
    assert resp.status_code == 200, resp.text
    assert all(math.isclose(g, 2 * w, rel_tol=1e-9) for g, w in zip(resp.json["predictions"], spec["expected"]))
    assert client.simulate_get("/models/net").json["custom_predict"] == "net.R"


def test_model_that_fails_in_r_is_500_with_r_message_and_server_survives(folder):
    path, reg, client = folder
    copy_model(EXAMPLES / "mtcars_lm.rds", path, "broken.rds")
    (path / "broken.R").write_text("predict_fn <- function(model, newdata) stop('the model exploded')\n")
    copy_model(EXAMPLES / "mtcars_lm.rds", path)
    reg.scan()
    resp = client.simulate_post("/models/broken/predict", json=CARS)
    assert resp.status_code == 500 and "the model exploded" in resp.json["description"]
    assert client.simulate_post("/models/mtcars_lm/predict", json=CARS).status_code == 200


def test_untyped_model_passes_json_types_and_says_so(folder):
    path, reg, client = folder
    rscript(f"""
        library(ranger); set.seed(1)
        saveRDS(ranger(breaks ~ wool + tension, warpbreaks, num.trees = 5), "{path / 'bare.rds'}")
        saveRDS(ranger(mpg ~ wt + hp, mtcars, num.trees = 5), "{path / 'numeric.rds'}")
    """)
    reg.scan()
    meta = client.simulate_get("/models/bare").json["inputs"]
    assert meta["complete"] is False and "attach_ptype" in meta["note"]
    # ranger without levels codes a string by the request's own levels: refused, not guessed.
    resp = client.simulate_post("/models/bare/predict", json=[{"wool": "A", "tension": "H"}])
    assert resp.status_code == 422 and "attach_ptype" in resp.json["description"]
    resp = client.simulate_post("/models/numeric/predict", json=[{"wt": 2.5, "hp": 100}])
    assert resp.status_code == 200, resp.text

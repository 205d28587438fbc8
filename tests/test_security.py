"""Request values are data, never code (issue 9), on real servers with real R.

- predict() arguments: only the formals of the method that will run, never
  the ones R uses as functions; a canary R function planted in the worker's
  global environment must never run, whatever a caller sends, for every
  fixture model and every argument it accepts;
- R starts clean (no .Rprofile / .RData / .First from the working directory
  or $HOME), with and without --require-lock;
- the lock covers every file read: object names that are not safe file
  names are skipped, links out of the model folder are refused;
- answers are bounded: a small request cannot make a huge response;
- the small ones: log lines, nested tensors, Content-Encoding, header-only CSV.
"""

import json
import shutil
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLES, ROOT, Server, copy_model, rscript

GOOD_ROW = {"wt": 2.62, "hp": 110, "cyl": "6"}
HOSTILE = ["bridge_canary", "system2", "system", "unlink", "attach", "get", "eval", "q", "quit",
           "source", "Sys.setenv", "file.remove", "bridge_canary()", "stats::na.omit"]

# A model whose sidecar plants the canary in R's global environment (where a
# function name given as a string would be found) and reports R's state.
PROBE_SIDECAR = r"""
assign("bridge_canary", function(...) {
  file.create(Sys.getenv("BRIDGE_CANARY_FILE"))
  stop("the canary ran")
}, envir = globalenv())
predict_fn <- function(model, newdata, what = "search", call_canary = FALSE) {
  if (isTRUE(call_canary)) bridge_canary()
  state <- switch(what,
    search = paste(search(), collapse = ";"),
    globals = paste(sort(ls(globalenv(), all.names = TRUE)), collapse = ";"),
    wd = paste(sort(list.files(getwd(), all.files = TRUE, no.. = TRUE)), collapse = ";"))
  rep(state, nrow(newdata))
}
"""


def case(folder, name):
    return json.loads((Path(folder) / f"{name}.case.json").read_text())


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    return tmp_path_factory.mktemp("canary") / "CANARY_RAN"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory, fixture_models, canary):
    """Every fixture model, the examples and the probe, in one server whose
    working directory is a folder we watch for changes."""
    folder = tmp_path_factory.mktemp("hostile_models")
    for path in fixture_models.iterdir():
        if path.suffix.lower() in (".rds", ".rda", ".rdata", ".json", ".r"):
            shutil.copy(path, folder)
    for path in EXAMPLES.glob("*.rd*"):
        copy_model(path, folder)
    copy_model(EXAMPLES / "mtcars_lm.rds", folder, "probe.rds")
    (folder / "probe.R").write_text(PROBE_SIDECAR)
    workdir = tmp_path_factory.mktemp("workdir")
    (workdir / "2.62").write_text("keep me")
    (workdir / "110").write_text("keep me")
    server = Server(folder, "--reload-interval", "0", cwd=workdir,
                    env={"BRIDGE_CANARY_FILE": str(canary)})
    server.folder, server.workdir = folder, workdir
    yield server
    server.stop()


def probe(server, what):
    r = requests.post(f"{server.url}/models/probe/predict", json={"data": [GOOD_ROW], "args": {"what": what}})
    assert r.status_code == 200, r.text
    return r.json()["predictions"][0]


def snapshot(server):
    files = {p: p.read_bytes() for d in (server.folder, server.workdir) for p in d.iterdir()
             if p.is_file() and not p.name.startswith(".server-")}
    return files, probe(server, "search"), probe(server, "globals"), probe(server, "wd")


def test_the_canary_is_armed(hostile_server, canary):
    """The canary exists in the worker's R and would leave its mark: the
    checks below can fail."""
    r = requests.post(f"{hostile_server.url}/models/probe/predict",
                      json={"data": [GOOD_ROW], "args": {"call_canary": True}})
    assert r.status_code in (422, 500), r.text
    assert canary.exists()
    canary.unlink()
    assert "bridge_canary" in probe(hostile_server, "globals")


def fixture_cases(folder):
    return sorted(p.name[: -len(".case.json")] for p in Path(folder).glob("*.case.json"))


def test_no_argument_value_ever_runs_code(hostile_server, fixture_models, canary):
    """For every model and every argument it accepts (and every one it
    refuses), hostile values are data: 200 or 422, never 500, the canary
    never runs, no file changes, R's search path and globals stay put."""
    before = snapshot(hostile_server)
    checked = 0
    for name in fixture_cases(fixture_models):
        spec = case(fixture_models, name)
        meta = requests.get(f"{hostile_server.url}/models/{spec['model']}").json()
        assert "args" in meta, (spec["model"], meta)
        args = meta["args"]
        names = [a["name"] for a in args["accepted"]] + list(args["refused"])
        for arg in names:
            for value in HOSTILE:
                body = {"data": spec["rows"][:2], "args": {**spec["args"], arg: value}}
                r = requests.post(f"{hostile_server.url}/models/{spec['model']}/predict", json=body)
                assert r.status_code in (200, 422), (name, arg, value, r.text)
                if arg in args["refused"]:
                    assert r.status_code == 422 and r.json()["argument"] == arg, r.text
                checked += 1
    assert checked > 200
    assert not canary.exists()
    assert snapshot(hostile_server) == before


@pytest.mark.parametrize("model", ["mtcars_lm", "infert_glm", "iris_rf", "warpbreaks_ranger"])
@pytest.mark.parametrize("arg", ["na.action", "na", "na.act", "FUN", "object", "newdata", "data",
                                 "...", "", "envir"])
def test_function_arguments_and_their_prefixes_are_refused(hostile_server, model, arg):
    # R matches argument names by prefix: "na" would reach na.action.
    rows = {"mtcars_lm": [GOOD_ROW]}.get(model, [{}])
    r = requests.post(f"{hostile_server.url}/models/{model}/predict",
                      json={"data": rows, "args": {arg: "bridge_canary"}})
    assert r.status_code == 422, r.text
    assert r.json()["argument"] == arg


def test_unknown_argument_names_the_accepted_ones_and_the_closest(hostile_server):
    r = requests.post(f"{hostile_server.url}/models/mtcars_lm/predict",
                      json={"data": [GOOD_ROW], "args": {"tpye": "response"}})
    assert r.status_code == 422, r.text
    doc = r.json()
    assert "did you mean 'type'?" in doc["description"]
    assert "type" in doc["accepted_arguments"] and "na.action" not in doc["accepted_arguments"]


@pytest.mark.parametrize("args,fragment", [
    ({"se.fit": "yes"}, "expected true or false"),
    ({"level": "0.9"}, "expected a number"),
    ({"interval": "predictoin"}, "did you mean 'prediction'?"),
    ({"type": ["response", {"a": 1}]}, "expected a string, number or boolean"),
])
def test_argument_values_are_checked_against_the_default_type(hostile_server, args, fragment):
    r = requests.post(f"{hostile_server.url}/models/mtcars_lm/predict", json={"data": [GOOD_ROW], "args": args})
    assert r.status_code == 422, r.text
    assert fragment in r.json()["description"]


def test_accepted_arguments_still_work(hostile_server):
    r = requests.post(f"{hostile_server.url}/models/mtcars_lm/predict",
                      json={"data": [GOOD_ROW], "args": {"interval": "prediction", "level": 0.9}})
    assert r.status_code == 200, r.text
    want = rscript('m <- readRDS("r_models/mtcars_lm.rds"); '
                   'p <- predict(m, data.frame(wt = 2.62, hp = 110, cyl = factor("6", levels = c("4","6","8"))), '
                   'interval = "prediction", level = 0.9); cat(sprintf("%.15g", p), sep = " ")', cwd=ROOT)
    got = r.json()["predictions"][0]
    assert [pytest.approx(float(x), rel=1e-12) for x in want.split()] == [got["fit"], got["lwr"], got["upr"]]


def test_the_canary_is_not_reached_through_v2_or_csv(hostile_server, canary):
    url = hostile_server.url
    tensors = [{"name": "wt", "shape": [1], "datatype": "FP64", "data": [2.62]},
               {"name": "hp", "shape": [1], "datatype": "FP64", "data": [110]},
               {"name": "cyl", "shape": [1], "datatype": "BYTES", "data": ["6"]}]
    for value in HOSTILE:
        r = requests.post(f"{url}/v2/models/mtcars_lm/infer",
                          json={"inputs": tensors, "parameters": {"na.action": value}})
        # the Open Inference Protocol answers every caller error 400
        assert r.status_code == 400 and "not accepted" in r.json()["error"], r.text
        r = requests.post(f"{url}/models/mtcars_lm/predict", params={"na.action": value},
                          data=b"wt,hp,cyl\n2.62,110,6\n", headers={"Content-Type": "text/csv"})
        assert r.status_code == 422, r.text
    assert not canary.exists()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(args=st.dictionaries(
    st.one_of(st.sampled_from(["type", "se.fit", "na.action", "interval", "level", "terms", "scale",
                               "weights", "pred.var", "df", "what", "call_canary"]), st.text(max_size=12)),
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False), st.integers(),
              st.sampled_from(HOSTILE), st.text(max_size=20),
              st.lists(st.one_of(st.sampled_from(HOSTILE), st.integers()), max_size=3)),
    max_size=3))
def test_any_arguments_are_200_or_422(hostile_server, canary, args):
    args.pop("call_canary", None)  # the one documented way to run it (the armed check above)
    for model in ("mtcars_lm", "probe"):
        r = requests.post(f"{hostile_server.url}/models/{model}/predict",
                          json={"data": [GOOD_ROW], "args": args})
        assert r.status_code in (200, 422), (model, args, r.text)
    assert not canary.exists()


# ---- R starts clean ---------------------------------------------------------------------

@pytest.mark.parametrize("locked", [False, True], ids=["unlocked", "require-lock"])
def test_r_ignores_profiles_and_saved_workspaces(tmp_path, start_server, locked):
    marks = tmp_path / "marks"
    marks.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    folder = tmp_path / "models"
    folder.mkdir()
    copy_model(EXAMPLES / "mtcars_lm.rds", folder)
    for place in (folder, home):
        (place / ".Rprofile").write_text(f'file.create("{marks}/profile_{place.name}")\n')
        (place / ".Renviron").write_text(f"BRIDGE_RENVIRON_{place.name.upper()}=1\n")
        rscript(f'.First <- function() file.create("{marks}/first_{place.name}"); '
                f'save(.First, file = "{place}/.RData")')
    args = ["--reload-interval", "0"]
    if locked:
        args += ["--require-lock"]
        from bridge.manifest import write_manifest
        write_manifest(folder)
    # started inside the model folder, with $HOME holding the same traps
    server = start_server(folder, *args, cwd=folder, env={"HOME": str(home)})
    r = requests.post(f"{server.url}/models/mtcars_lm/predict", json=[GOOD_ROW])
    assert r.status_code == 200, r.text
    assert sorted(p.name for p in marks.iterdir()) == []


# ---- the lock covers every file read ----------------------------------------------------------

def test_unsafe_object_names_are_skipped_and_sidecars_stay_in_the_folder(tmp_path, start_server):
    folder = tmp_path / "models"
    (folder / "pack.sub").mkdir(parents=True)
    mark = tmp_path / "SIDECAR_RAN"
    # a sidecar in a sub-folder that `pack.sub/evil` would name
    (folder / "pack.sub" / "evil.R").write_text(f'file.create("{mark}")\npredict_fn <- function(model, newdata) 1\n')
    long_name = "x" * 4000
    rscript(f'm <- readRDS("{EXAMPLES}/mtcars_lm.rds"); e <- new.env(); '
            f'assign("sub/evil", m, e); assign("good", m, e); assign("{long_name}", m, e); '
            f'assign("ne\\nwline", m, e); save(list = ls(e, all.names = TRUE), envir = e, file = "{folder}/pack.rda")')
    from bridge.manifest import write_manifest
    write_manifest(folder)
    server = start_server(folder, "--reload-interval", "0", "--require-lock")
    listing = requests.get(f"{server.url}/models").json()["models"]
    names = [m["name"] for m in listing]
    assert names == ["pack.good"], listing  # the one safe object
    skipped = listing[0]["skipped_objects"]
    assert sorted(s["object"][:4] for s in skipped) == sorted(["sub/", "xxxx", "ne\nw"])
    assert all(len(s["object"]) <= 128 for s in skipped)
    r = requests.post(f"{server.url}/models/pack.good/predict", json=[GOOD_ROW])
    assert r.status_code == 200, r.text
    assert not mark.exists()


def test_links_out_of_the_folder_are_refused_unless_followed(tmp_path, start_server):
    outside = tmp_path / "outside"
    outside.mkdir()
    copy_model(EXAMPLES / "mtcars_lm.rds", outside, "elsewhere.rds")
    folder = tmp_path / "models"
    folder.mkdir()
    copy_model(EXAMPLES / "mtcars_lm.rds", folder, "inside.rds")
    (folder / "linked.rds").symlink_to(outside / "elsewhere.rds")
    (folder / "local_link.rds").symlink_to(folder / "inside.rds")
    server = start_server(folder, "--reload-interval", "0")
    listing = {m["name"]: m for m in requests.get(f"{server.url}/models").json()["models"]}
    assert listing["inside"]["status"] == "loaded"
    assert listing["local_link"]["status"] == "loaded"
    assert listing["linked"]["status"] == "error" and "outside the model folder" in listing["linked"]["error"]
    assert requests.post(f"{server.url}/models/linked/predict", json=[GOOD_ROW]).status_code == 404
    followed = start_server(folder, "--reload-interval", "0", "--follow-symlinks")
    r = requests.post(f"{followed.url}/models/linked/predict", json=[GOOD_ROW])
    assert r.status_code == 200, r.text


def test_file_names_are_escaped_in_the_log(tmp_path, start_server):
    folder = tmp_path / "models"
    folder.mkdir()
    copy_model(EXAMPLES / "mtcars_lm.rds", folder, "evil\nINJECTED line.rds")
    server = start_server(folder, "--reload-interval", "0")
    requests.get(f"{server.url}/models")
    log = server.output()
    assert "evil\\nINJECTED" in log
    assert not any(line.startswith("INJECTED") for line in log.splitlines())


# ---- bounded answers -------------------------------------------------------------------------

def test_an_answer_past_the_limit_is_refused_from_its_shape(start_server, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    copy_model(EXAMPLES / "iris_rf.rds", folder)
    server = start_server(folder, "--reload-interval", "0", "--max-response-bytes", "200000")
    row = {"Sepal.Length": 5.1, "Sepal.Width": 3.5, "Petal.Length": 1.4, "Petal.Width": 0.2}
    url = f"{server.url}/models/iris_rf/predict"
    r = requests.post(url, json={"data": [row] * 2000, "args": {"predict.all": True}})
    assert r.status_code == 422, r.text[:500]
    doc = r.json()
    assert doc["estimated_bytes"] > 200000 and 0 < doc["rows_that_fit"] < 2000
    assert "rows" in doc["description"] and "BRIDGE_MAX_RESPONSE_BYTES" in doc["description"]
    # the advice holds: that many rows fit
    r = requests.post(url, json={"data": [row] * doc["rows_that_fit"], "args": {"predict.all": True}})
    assert r.status_code == 200, r.text[:300]
    assert len(r.content) <= 200000 * 1.2
    # and the plain answer for the same rows is small enough
    assert requests.post(url, json=[row] * 2000).status_code == 200


# ---- the small ones ------------------------------------------------------------------------------

def test_tensor_data_nested_deeper_than_its_shape_is_400(hostile_server):
    deep = "[" * 1000 + "1" + "]" * 1000
    r = requests.post(f"{hostile_server.url}/v2/models/mtcars_lm/infer",
                      data='{"inputs": [{"name": "wt", "shape": [1], "datatype": "FP64", "data": %s}]}' % deep,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "nested deeper" in r.text


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "x-evil"])
def test_compressed_bodies_are_415(hostile_server, encoding):
    r = requests.post(f"{hostile_server.url}/models/mtcars_lm/predict", data=b"[]",
                      headers={"Content-Type": "application/json", "Content-Encoding": encoding})
    assert r.status_code == 415, r.text
    assert "Content-Encoding" in r.json()["description"]


@pytest.mark.parametrize("body,content_type", [
    (b"a,b\n", "text/csv"),
    (b"wt,hp\n", "text/csv"),
    (json.dumps({"data": {"a": []}}).encode(), "application/json"),
])
def test_empty_tables_with_wrong_columns_are_422(hostile_server, body, content_type):
    r = requests.post(f"{hostile_server.url}/models/mtcars_lm/predict", data=body,
                      headers={"Content-Type": content_type})
    assert r.status_code == 422, r.text
    assert "missing column" in r.json()["description"]


def test_empty_tables_with_the_right_columns_are_empty_answers(hostile_server):
    r = requests.post(f"{hostile_server.url}/models/mtcars_lm/predict", data=b"wt,hp,cyl\n",
                      headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == []

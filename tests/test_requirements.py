"""What a model needs from R (issue 19): found from the object, recorded at
save time, checked at load, and turned into the packages an image installs.

Real R on real model files throughout: the per-class fixtures, models built
here with Rscript, and a small R package installed into a private library
so that "saved with another version" and "not installed" are real.
"""

import gzip
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import CLEAN_ENV, ROOT, copy_model, rscript

BASE = {"base", "stats", "methods", "utils", "graphics", "grDevices", "datasets", "splines"}


# ---- found from the object, for every fixture class ---------------------------------

@pytest.fixture(scope="module")
def fixture_requirements(fixture_models, session):
    """served name -> (RModel, case) for every fixture model, read in this process."""
    from bridge.r.model import read_model_file

    out = {}
    for path in sorted(fixture_models.glob("*.rd*")):
        for name, model in read_model_file(path, session).items():
            case = fixture_models / f"{name}.case.json"
            out[name] = (model, json.loads(case.read_text()) if case.exists() else None)
    return out


def _packages(model):
    return {p["package"]: p for p in model.describe()["requirements"]["packages"]}


def test_every_fixture_names_the_package_its_predict_comes_from(fixture_requirements):
    checked = 0
    for name, (model, case) in fixture_requirements.items():
        if case is None or case["predict_from"] in ("", "R_GlobalEnv"):
            continue
        assert case["predict_from"] in _packages(model), (name, case["predict_from"], list(_packages(model)))
        checked += 1
    assert checked >= 40


def test_every_package_listed_is_installed_and_loaded_after_predict(fixture_requirements, session):
    """Property over the class matrix: no package is listed that R does not
    have, or that serving the model never loads (a name guessed wrongly)."""
    import pandas as pd

    loaded = session.ri.baseenv["isNamespaceLoaded"]
    for name, (model, case) in fixture_requirements.items():
        if case is not None and model.kind == "model":
            model.predict(pd.DataFrame(case["rows"]), **case["args"])
        for package, p in _packages(model).items():
            assert p["status"] != "missing" and p["installed"], (name, p)
            assert loaded(session.ri.StrSexpVector([package]))[0], (name, package)
            assert p["debian"] == ("r-base-core" if package in BASE else f"r-cran-{package.lower()}")


def test_formula_functions_name_their_packages(fixture_requirements):
    # ns() and bs() without splines:: (glm_splines) and with it (lm_transforms)
    for name in ("glm_splines", "lm_transforms"):
        assert _packages(fixture_requirements[name][0])["splines"]["needed_for"] == "formula", name


def test_s4_and_caret_and_formula_models_built_here(tmp_path, session):
    from bridge.r.model import load_model

    rscript(f"""
        set.seed(1)
        saveRDS(kernlab::ksvm(Species ~ ., data = iris, kernel = "rbfdot"), "{tmp_path}/ks.rds")
        saveRDS(caret::train(Species ~ ., data = iris, method = "rpart",
                             trControl = caret::trainControl(method = "none")), "{tmp_path}/ct.rds")
        d <- survival::lung[complete.cases(survival::lung[, c("time", "status", "age", "sex")]), ]
        saveRDS(survival::coxph(survival::Surv(time, status) ~ age + survival::strata(sex), data = d),
                "{tmp_path}/cox.rds")
        saveRDS(lm(mpg ~ splines::bs(wt, df = 4) + poly(hp, 2), data = mtcars), "{tmp_path}/bs.rds")
    """)
    assert _packages(load_model(tmp_path / "ks.rds", session=session))["kernlab"]["needed_for"] == "class"
    caret = _packages(load_model(tmp_path / "ct.rds", session=session))
    assert {"caret", "rpart"} <= set(caret), caret  # rpart: the method's library
    assert "survival" in _packages(load_model(tmp_path / "cox.rds", session=session))
    bs = _packages(load_model(tmp_path / "bs.rds", session=session))
    assert bs["splines"]["needed_for"] == "formula" and "stats" in bs


def test_a_predict_fn_sidecar_names_the_packages_it_uses(tmp_path, session):
    from bridge.r.model import load_model

    rscript(f'saveRDS(lm(mpg ~ wt, data = mtcars), "{tmp_path}/m.rds")')
    (tmp_path / "m.R").write_text("library(MASS)\n"
                                  "predict_fn <- function(model, newdata) {\n"
                                  "  stats::predict(model, newdata) + 0 * nlme::fixef(nlme::lme(distance ~ age,"
                                  " data = nlme::Orthodont))[1]\n}\n")
    found = _packages(load_model(tmp_path / "m.rds", session=session))
    assert found["MASS"]["needed_for"] == "predict_fn script"
    assert found["nlme"]["needed_for"] == "predict_fn script"


def test_a_vetiver_model_is_served_as_its_model_with_its_record(tmp_path, session):
    """A vetiver_model as vetiver writes it (vetiver is not installed here,
    so the object is built with vetiver's own fields): the wrapped model is
    served, its prototype is the ptype, required_pkgs and renv_lock are the
    record; the lock's randomForest version differs from the installed one."""
    from bridge.r.model import load_model

    rscript(f"""
        set.seed(2)
        fit <- randomForest::randomForest(Species ~ ., data = iris, ntree = 20)
        v <- structure(list(model = fit, model_name = "iris_rf", description = "rf",
                            metadata = list(user = list(), version = NULL, url = NULL,
                                            required_pkgs = c("randomForest"),
                                            renv_lock = list(R = list(Version = "4.1.0"),
                                              Packages = list(randomForest = list(Package = "randomForest",
                                                                                  Version = "4.6-14")))),
                            prototype = iris[0, 1:4], versioned = FALSE),
                       class = "vetiver_model")
        saveRDS(v, "{tmp_path}/v.rds")
    """)
    model = load_model(tmp_path / "v.rds", session=session)
    req = model.describe()["requirements"]
    rf = _packages(model)["randomForest"]
    assert rf["saved"] == "4.6-14" and rf["status"] == "mismatch"
    assert req["recorded_by"] == ["vetiver"] and req["saved_r_version"] == "4.1.0"
    assert model.describe()["inputs"]["source"] == "ptype attribute"
    with pytest.raises(Exception, match="randomForest .* saved with 4.6-14"):
        load_model(tmp_path / "v.rds", session=session, package_check="refuse")


# ---- bridge_save() ------------------------------------------------------------------

def test_bridge_save_round_trips_ptype_and_records(tmp_path, session):
    from bridge.r.model import load_model

    rscript(f"""
        source("{ROOT}/r_scripts/bridge_save.R")
        d <- mtcars; d$cyl <- factor(d$cyl)
        fit <- e1071::svm(mpg ~ wt + cyl, data = d)
        bridge_save(fit, "{tmp_path}/svm.rds", ptype = d[, c("wt", "cyl")], description = "svm mpg")
    """)
    side = json.loads((tmp_path / "svm.json").read_text())
    installed = rscript('cat(as.character(packageDescription("e1071")$Version))').strip()
    assert side["packages"]["e1071"] == installed and side["description"] == "svm mpg"
    assert side["r_version"] == rscript('cat(paste(R.version$major, R.version$minor, sep = "."))').strip()
    model = load_model(tmp_path / "svm.rds", session=session)
    described = model.describe()
    assert described["inputs"]["source"] == "ptype attribute"
    columns = {c["name"]: c for c in described["inputs"]["columns"]}
    assert columns["cyl"]["levels"] == ["4", "6", "8"] and columns["wt"]["type"] == "numeric"
    assert described["requirements"]["recorded_by"] == ["sidecar"]
    assert _packages(model)["e1071"]["status"] == "ok"


# ---- a private library: another version, and none ----------------------------------

def _install_fake(lib, version):
    """A real R package `bridgefake` (predict method for class bridgefake)."""
    src = lib.parent / f"bridgefake-{version}"
    (src / "R").mkdir(parents=True, exist_ok=True)
    (src / "DESCRIPTION").write_text(
        f"Package: bridgefake\nVersion: {version}\nTitle: Test\nDescription: A test package.\n"
        "License: MIT\nAuthor: t\nMaintainer: t <t@example.org>\n")
    (src / "NAMESPACE").write_text("export(fakefit)\nS3method(predict, bridgefake)\n")
    (src / "R" / "f.R").write_text(
        "fakefit <- function(x, y) structure(list(k = sum(y) / sum(x), f = function(v) v), "
        "class = 'bridgefake')\npredict.bridgefake <- function(object, newdata, ...) object$k * newdata$x\n")
    lib.mkdir(exist_ok=True)
    subprocess.run(["R", "CMD", "INSTALL", "-l", str(lib), str(src)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def fake_models(tmp_path_factory):
    """A folder with a bridgefake model saved by bridge_save() under
    version 1.0.0, a plain lm beside it, and a library now holding 2.0.0."""
    root = tmp_path_factory.mktemp("fakepkg")
    lib, models = root / "lib", root / "models"
    models.mkdir()
    _install_fake(lib, "1.0.0")
    rscript(f"""
        .libPaths(c("{lib}", .libPaths()))
        source("{ROOT}/r_scripts/bridge_save.R")
        bridge_save(bridgefake::fakefit(1:3, 2:4), "{models}/fake.rds",
                    ptype = data.frame(x = numeric(0)))
        saveRDS(lm(mpg ~ wt, data = mtcars), "{models}/cars.rds")
    """)
    assert json.loads((models / "fake.json").read_text())["packages"]["bridgefake"] == "1.0.0"
    shutil.rmtree(lib)
    _install_fake(lib, "2.0.0")
    return lib, models


def _metric(url, name, **labels):
    text = requests.get(url + "/metrics", timeout=10).text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return [line for line in text.splitlines() if line.startswith(f"{name}{{") and want in line]


def test_another_version_is_served_with_a_warning_under_warn(fake_models, start_server):
    lib, models = fake_models
    server = start_server(models, "--reload-interval", "0", env={"R_LIBS": str(lib)})
    listing = {m["name"]: m for m in requests.get(server.url + "/models", timeout=10).json()["models"]}
    assert listing["fake"]["status"] == "loaded"
    assert listing["fake"]["requirement_warnings"] == [
        "bridgefake 2.0.0 is installed; the model was saved with 1.0.0"]
    described = requests.get(server.url + "/models/fake", timeout=10).json()
    fake = {p["package"]: p for p in described["requirements"]["packages"]}["bridgefake"]
    assert (fake["saved"], fake["installed"], fake["status"]) == ("1.0.0", "2.0.0", "mismatch")
    answer = requests.post(server.url + "/models/fake/predict", json=[{"x": 2.0}], timeout=30)
    assert answer.status_code == 200, answer.text
    series = _metric(server.url, "bridge_model_requirement_mismatch", model="fake", package="bridgefake")
    assert series and series[0].endswith(" 1.0"), series
    assert "bridgefake 2.0.0 is installed" in server.output()


def test_another_version_is_not_served_under_refuse(fake_models, start_server):
    lib, models = fake_models
    server = start_server(models, "--reload-interval", "0", "--package-check", "refuse",
                          env={"R_LIBS": str(lib)})
    listing = {m["name"]: m for m in requests.get(server.url + "/models", timeout=10).json()["models"]}
    assert listing["fake"]["status"] == "error"
    assert "refuse" in listing["fake"]["error"] and "bridgefake 2.0.0" in listing["fake"]["error"]
    assert listing["cars"]["status"] == "loaded"
    assert requests.post(server.url + "/models/fake/predict", json=[{"x": 2.0}], timeout=30).status_code == 404


def test_off_does_not_compare(fake_models, start_server):
    lib, models = fake_models
    server = start_server(models, "--reload-interval", "0", env={"R_LIBS": str(lib),
                                                                  "BRIDGE_PACKAGE_CHECK": "off"})
    listing = {m["name"]: m for m in requests.get(server.url + "/models", timeout=10).json()["models"]}
    assert listing["fake"]["status"] == "loaded" and "requirement_warnings" not in listing["fake"]


def test_a_missing_package_fails_that_model_only_with_a_clear_error(fake_models, start_server, tmp_path):
    _, models = fake_models
    folder = tmp_path / "m"
    shutil.copytree(models, folder, ignore=shutil.ignore_patterns(".server-*"))
    server = start_server(folder, "--reload-interval", "0")  # no R_LIBS: bridgefake is not installed
    listing = {m["name"]: m for m in requests.get(server.url + "/models", timeout=10).json()["models"]}
    error = listing["fake"]["error"]
    assert listing["fake"]["status"] == "error"
    assert "bridgefake (saved with 1.0.0)" in error and "r-cran-bridgefake" in error, error
    assert "there is no package called" not in error
    assert listing["cars"]["status"] == "loaded"
    ok = requests.post(server.url + "/models/cars/predict", json=[{"wt": 3}], timeout=30)
    assert ok.status_code == 200


def _versioned_folder(models, root):
    """`fakev/1/` the bridgefake model (saved with 1.0.0), `fakev/2/` a plain lm."""
    folder = root / "versioned"
    for label, stem in (("1", "fake"), ("2", "cars")):
        (folder / "fakev" / label).mkdir(parents=True)
        for part in models.glob(f"{stem}.*"):
            shutil.copy(part, folder / "fakev" / label / part.name)
    return folder


def _versions(url, name):
    return {v["version"]: v for v in requests.get(f"{url}/models/{name}/versions",
                                                  timeout=10).json()["versions"]}


def test_a_version_runs_the_same_package_check_as_a_file(fake_models, start_server, tmp_path):
    lib, models = fake_models
    folder = _versioned_folder(models, tmp_path)
    (folder / "fakev" / "serving.json").write_text('{"load": "all"}')
    server = start_server(folder, "--reload-interval", "0", env={"R_LIBS": str(lib)})
    held = _versions(server.url, "fakev")
    assert held["1"]["loaded"] and held["1"]["requirement_warnings"] == [
        "bridgefake 2.0.0 is installed; the model was saved with 1.0.0"], held
    assert "requirement_warnings" not in held["2"]
    series = _metric(server.url, "bridge_model_requirement_mismatch", model="fakev", package="bridgefake")
    assert series and series[0].endswith(" 1.0"), series
    assert "bridgefake 2.0.0 is installed" in server.output()
    answer = requests.post(server.url + "/models/fakev/versions/1/predict", json=[{"x": 2.0}], timeout=30)
    assert answer.status_code == 200, answer.text


def test_a_version_is_refused_under_refuse_and_the_others_serve(fake_models, start_server, tmp_path):
    lib, models = fake_models
    folder = _versioned_folder(models, tmp_path)
    (folder / "fakev" / "serving.json").write_text('{"load": "all"}')
    server = start_server(folder, "--reload-interval", "0", "--package-check", "refuse",
                          env={"R_LIBS": str(lib)})
    held = _versions(server.url, "fakev")
    assert not held["1"]["loaded"] and "refuse" in held["1"]["error"], held["1"]
    assert "bridgefake 2.0.0" in held["1"]["error"]
    assert held["2"]["loaded"]
    assert requests.post(server.url + "/models/fakev/predict", json=[{"wt": 3}],
                         timeout=30).status_code == 200
    pinned = requests.post(server.url + "/models/fakev/versions/1/predict", json=[{"x": 2.0}], timeout=30)
    assert pinned.status_code in (404, 503) and "refuse" in pinned.text, pinned.text
    assert not _metric(server.url, "bridge_model_requirement_mismatch", model="fakev")


def test_a_version_missing_its_package_fails_alone(fake_models, start_server, tmp_path):
    _, models = fake_models
    folder = _versioned_folder(models, tmp_path)
    (folder / "fakev" / "serving.json").write_text('{"load": "all"}')
    server = start_server(folder, "--reload-interval", "0")  # bridgefake not installed
    held = _versions(server.url, "fakev")
    assert "bridgefake (saved with 1.0.0)" in held["1"]["error"], held["1"]
    assert "r-cran-bridgefake" in held["1"]["error"] and held["2"]["loaded"]


# ---- sidecars are hostile -------------------------------------------------------------

@pytest.mark.parametrize("packages, r_version, what", [
    ({"bridgeNoSuchPkg": "1.2.3"}, None, "bridgeNoSuchPkg (saved with 1.2.3), Debian package r-cran-bridgenosuchpkg"),
    ({'x"); system("touch /tmp/pwned")': "1.0"}, None, "is not an R package name"),
    ({"stats; q()": "1.0"}, None, "is not an R package name"),
    ({"stats": "1.0); q(); c("}, None, "must be a version string"),
    ({"stats": 4}, None, "must be a version string"),
    ({"stats": None}, None, "must be a version string"),
    (["stats"], None, "'packages' must be an object"),
    ("stats", None, "'packages' must be an object"),
    ({f"pkg{i}": "1.0" for i in range(501)}, None, "at most 500"),
    ({"a" * 101: "1.0"}, None, "is not an R package name"),
    ({"stats": "4.2.2"}, ["4.2"], "'r_version' must be a version string"),
    ({"stats": "4.2.2"}, "4.2; q()", "'r_version' must be a version string"),
])
def test_hostile_sidecar_records_are_clear_errors(tmp_path, session, packages, r_version, what):
    from bridge.errors import ModelLoadError
    from bridge.r.model import load_model

    copy_model(ROOT / "r_models" / "mtcars_lm.rds", tmp_path)
    meta = {"packages": packages, **({"r_version": r_version} if r_version is not None else {})}
    (tmp_path / "mtcars_lm.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError) as err:
        load_model(tmp_path / "mtcars_lm.rds", session=session)
    assert what in err.value.description
    assert not Path("/tmp/pwned").exists()
    # The server is still whole: a good sidecar loads next.
    (tmp_path / "mtcars_lm.json").write_text(json.dumps({"packages": {"stats": "4.2.2"}}))
    assert load_model(tmp_path / "mtcars_lm.rds", session=session).requirements


# ---- a file from a newer R ----------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("fmt", ["X", "B", "A"])
def test_a_file_from_a_newer_r_is_a_clear_error(tmp_path, session, fmt, compress):
    from bridge.errors import ModelLoadError
    from bridge.r.model import load_model

    version, writer, reader = 4, (9 << 16) | (1 << 8), (9 << 16)
    if fmt == "A":
        body = f"A\n{version}\n{writer}\n{reader}\n".encode()
    else:
        body = fmt.encode() + b"\n" + struct.pack(">iii" if fmt == "X" else "<iii", version, writer, reader)
    body += b"\x00" * 32
    path = tmp_path / "future.rds"
    path.write_bytes(gzip.compress(body) if compress else body)
    with pytest.raises(ModelLoadError) as err:
        load_model(path, session=session)
    assert "written by R 9.1.0" in err.value.description and "R 9.0.0 or newer" in err.value.description


def test_an_rda_header_is_read_after_its_magic(tmp_path, session):
    from bridge.r.requirements import file_header

    rscript(f'm <- lm(mpg ~ wt, data = mtcars); save(m, file = "{tmp_path}/m.rda", version = 2)')
    header = session.run(file_header, session, tmp_path / "m.rda")
    assert header["kind"] == "rda" and header["version"] == 2 and header["min_reader"] == "2.3.0"


# ---- bridge requirements --------------------------------------------------------------

def _bridge(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bridge", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**CLEAN_ENV, **(env or {})}, timeout=600)


def test_requirements_debian_lists_packages_apt_accepts(fixture_models):
    done = _bridge("requirements", "--models", str(fixture_models), "--format", "debian")
    assert done.returncode == 0, done.stderr
    names = [line for line in done.stdout.splitlines() if line and not line.startswith("#")]
    assert {"r-base-core", "r-cran-kernlab", "r-cran-randomforest", "r-cran-caret"} <= set(names)
    if not shutil.which("apt-cache"):
        pytest.skip("no apt-cache on this machine")
    policy = subprocess.run(["apt-cache", "policy", *names], capture_output=True, text=True, timeout=120)
    candidates, current = {}, None
    for line in policy.stdout.splitlines():
        if line and not line[0].isspace():
            current = line.rstrip(":")
        elif line.strip().startswith("Candidate:"):
            candidates[current] = line.split(":", 1)[1].strip()
    for name in names:
        assert candidates.get(name) not in (None, "(none)"), (name, candidates.get(name))


def test_requirements_exit_status_gates_a_ci(fake_models):
    lib, models = fake_models
    text = _bridge("requirements", "--models", str(models), env={"R_LIBS": str(lib)})
    assert text.returncode == 0, text.stderr
    assert "bridgefake" in text.stdout and "mismatch" in text.stdout
    assert _bridge("requirements", "--models", str(models), "--strict",
                   env={"R_LIBS": str(lib)}).returncode == 1
    missing = _bridge("requirements", "--models", str(models), "--format", "json")
    assert missing.returncode == 1
    fake = {p["package"]: p for p in json.loads(missing.stdout)["packages"]}["bridgefake"]
    assert fake["status"] == "missing" and fake["saved"] == ["1.0.0"]
    renv = json.loads(_bridge("requirements", "--models", str(models), "--format", "renv",
                              env={"R_LIBS": str(lib)}).stdout)
    assert renv["Packages"]["bridgefake"]["Version"] == "1.0.0"


def test_inspect_shows_requirements():
    done = _bridge("inspect", str(ROOT / "r_models" / "iris_rf.rds"))
    assert done.returncode == 0, done.stderr
    described = json.loads(done.stdout)[0]
    assert "randomForest" in {p["package"] for p in described["requirements"]["packages"]}


def test_a_missing_package_is_named_with_no_record(fake_models, tmp_path, session):
    """No sidecar: the namespace a closure in the object refers to, or an S4
    class's package, names what is missing."""
    from bridge.errors import ModelLoadError
    from bridge.r.model import load_model

    _, models = fake_models
    shutil.copy(models / "fake.rds", tmp_path / "fake.rds")
    with pytest.raises(ModelLoadError) as err:
        load_model(tmp_path / "fake.rds", session=session)
    assert "bridgefake, Debian package r-cran-bridgefake" in err.value.description
    rscript(f"""
        setClass("BridgeFoo", representation(a = "numeric"))
        x <- new("BridgeFoo", a = 1)
        attr(x, "class") <- structure("BridgeFoo", package = "bridgeNoSuchS4")
        saveRDS(x, "{tmp_path}/s4.rds")
    """)
    with pytest.raises(ModelLoadError) as err:
        load_model(tmp_path / "s4.rds", session=session)
    assert "bridgeNoSuchS4" in err.value.description and "r-cran-bridgenosuchs4" in err.value.description


@pytest.mark.parametrize("junk", ["1); q()", "", "latest", "1..2"])
def test_a_recorded_version_that_is_not_one_is_ignored_not_compared(junk):
    from bridge.requirements import Requirement, combine

    req = combine([Requirement("MASS", "class", installed="7.3-58.2")], {"MASS": junk},
                  lambda names: [None] * len(names), "4.2.2", recorded_by=("vetiver",))
    assert [p.status for p in req.packages] == ["unrecorded"]

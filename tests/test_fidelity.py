"""R's own answer for every model class a data scientist drops in (issue 11).

Every case that r_scripts/train_fixtures.R writes is replayed through a real
server, many rows at once and each row alone, and compared with R's own
predict() on correctly typed data at 1e-9. The other tests pin each
invariant on the class of failure, not on one model.
"""

import json

import pytest
import requests

from conftest import ROOT, copy_model, rscript, close

TIMEOUT = 60

# The models people fit today (issue 23): caret through recipes, data
# arguments other than newdata, types in S4 slots or a history, packages
# exporting the same names, a model saved beside its data.
NEW = """
    caret_recipe caret_recipe_prob glmnet_mm cvglmnet_binomial smooth_spline party_ctree
    party_ctree_reg fda_mars mars_matrix mclustda_iris gam_hastie brglm_infert brmultinom_wine
    stan_glm_opt prophet_promo survreg_strata coxph_strata_lp gbm_bernoulli nnet_reg svm_with_data
    party_ctree_prob mclust_iris glmnet_multinomial caret_recipe_novel
""".split() + """
    caret_recipe_other coxph_strata_factor survreg_strata_two survreg_strata_num party_cforest_prob
    clm_scale clm_nominal lmer_new_levels lme_level0 nlme_loblolly rqss_mtcars kpca_iris
    svm_probabilities pls_gasoline lm_spline_args ranger_se coxph_strata_numlevels coxph_expected
""".split()

# Every case the fixture script writes; test_matrix_is_complete keeps this
# list and the script in step.
MATRIX = sorted("""
    bagging_mtcars bam_smooth caret_train cforest_mtcars clm_wine clm_wine_prob coxph_lung
    ctree_iris ctree_iris_prob cvglmnet_reg earth_mtcars gam_mgcv gam_te_by gausspr_mtcars
    gbm_reg glm_binomial glm_offset_arg glm_poisson_offset glm_splines glmer_cbpp glmnb_quine
    glmnet_reg gls_mtcars hurdle_bio knn3_iris ksvm_iris ksvm_iris_probs lda_iris lm_factor
    lm_names lm_transforms lm_types lme_orthodont lmer_sleep loess_reg lqs_stackloss mlm_mtcars
    multi.first multi.second multinom_iris multinom_iris_probs naivebayes_iris
    naivebayes_iris_raw nls_reg nnet_class ordered_only_lm plsr_mtcars polr_housing
    polr_housing_probs prcomp_mtcars qda_iris randomforest_class randomforest_class_prob
    ranger_class_prob ranger_reg rlm_stackloss rpart_class rq_mtcars rqs_mtcars survreg_lung
    svm_noptype svm_ptype workspace zeroinfl_bio
""".split() + NEW)


def load_case(folder, name):
    return json.loads((folder / f"{name}.case.json").read_text(encoding="utf-8"))




def predict(server, model, rows, args=None):
    return requests.post(f"{server.url}/models/{model}/predict",
                         json={"data": rows, "args": args or {}}, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def server(fixtures_server):
    return fixtures_server


def test_matrix_is_complete(fixture_models):
    written = sorted(p.name[: -len(".case.json")] for p in fixture_models.glob("*.case.json"))
    assert written == MATRIX


def test_at_least_35_model_classes_are_verified(fixture_models):
    classes = {load_case(fixture_models, name)["class"][0] for name in MATRIX}
    assert len(classes) >= 35, sorted(classes)


@pytest.mark.parametrize("name", MATRIX)
def test_many_rows_equal_r(server, fixture_models, name):
    case = load_case(fixture_models, name)
    resp = predict(server, case["model"], case["rows"], case["args"])
    assert resp.status_code == 200, resp.text
    got = resp.json()["predictions"]
    assert len(got) == len(case["expected"])
    for i, (g, w) in enumerate(zip(got, case["expected"])):
        assert close(g, w), f"row {i + 1}: bridge {g!r} != R {w!r}"


@pytest.mark.parametrize("name", MATRIX)
def test_each_row_alone_equals_r_on_that_row(server, fixture_models, name):
    """One-row calls: where R drops a matrix to a named vector (polr,
    multinom probabilities) the row is still one object, as R's fields."""
    case = load_case(fixture_models, name)
    for i, (row, want) in enumerate(zip(case["rows"], case["single"])):
        resp = predict(server, case["model"], [row], case["args"])
        assert resp.status_code == 200, resp.text
        got = resp.json()["predictions"]
        assert len(got) == 1 and close(got[0], want), f"row {i + 1}: bridge {got!r} != R {want!r}"


# ---- 3. models are what R dispatches on; their packages are found -------------

@pytest.mark.parametrize("name, package", [
    ("lmer_sleep", "lme4"), ("glmer_cbpp", "lme4"), ("ksvm_iris", "kernlab"),
    ("gausspr_mtcars", "kernlab"), ("coxph_lung", "survival"), ("glm_splines", "splines"),
    ("lme_orthodont", "nlme"), ("ctree_iris", "partykit"), ("bagging_mtcars", "ipred"),
])
def test_packages_a_model_needs_are_found_without_being_named(server, name, package):
    described = requests.get(f"{server.url}/models/{name}", timeout=TIMEOUT).json()
    assert package in described["packages"], described["packages"]


# ---- 4. every variable the model reads is an input ------------------------------

@pytest.mark.parametrize("name, column, kind", [
    ("lme_orthodont", "Subject", "ordered"),     # nlme grouping factor
    ("lmer_sleep", "Subject", "factor"),         # lme4 (Days | Subject)
    ("glmer_cbpp", "herd", "factor"),
    ("glm_offset_arg", "exposure", "numeric"),   # offset = log(exposure)
    ("glm_poisson_offset", "exposure", "numeric"),
    ("lm_transforms", "g", "factor"),            # relevel(g, ref = "b")
    ("lm_transforms", "x", "any"),               # only inside splines::ns(x, 3) and log(x)
    ("gls_mtcars", "cyl", "factor"),             # factor(cyl), levels from nlme's contrasts
    ("gam_te_by", "g", "factor"),                # s(x, by = g)
    ("clm_scale", "contact", "factor"),          # only in scale = ~ contact
    ("clm_nominal", "contact", "factor"),        # only in nominal = ~ contact
])
def test_every_variable_the_model_reads_is_a_typed_input(server, name, column, kind):
    inputs = requests.get(f"{server.url}/models/{name}", timeout=TIMEOUT).json()["inputs"]["columns"]
    found = {c["name"]: c for c in inputs}
    assert column in found, sorted(found)
    assert found[column]["type"] == kind


def test_a_factor_made_in_the_formula_takes_the_numbers_it_was_made_from(server, fixture_models):
    """gls(mpg ~ factor(cyl)) was fitted on numeric cyl: 6 and "6" are the same level."""
    case = load_case(fixture_models, "gls_mtcars")
    rows = [{**row, "cyl": int(row["cyl"])} for row in case["rows"]]
    resp = predict(server, "gls_mtcars", rows)
    assert resp.status_code == 200, resp.text
    assert all(close(g, w) for g, w in zip(resp.json()["predictions"], case["expected"]))


def test_a_missing_grouping_factor_is_named(server, fixture_models):
    case = load_case(fixture_models, "lmer_sleep")
    rows = [{k: v for k, v in row.items() if k != "Subject"} for row in case["rows"]]
    resp = predict(server, "lmer_sleep", rows)
    assert resp.status_code == 422 and "'Subject'" in resp.json()["description"]


# ---- 5. only models are served from an .rda/.RData -------------------------------

def test_an_rdata_serves_its_model_alone_under_the_file_name(server):
    listing = requests.get(f"{server.url}/models", timeout=TIMEOUT).json()["models"]
    names = {m["name"] for m in listing}
    assert "workspace" in names
    assert not {n for n in names if n.startswith("workspace.")}


def test_data_is_not_a_model_whatever_methods_exist(model_dir, start_server):
    # predict.list / predict.data.frame registered in the session that reads
    # the file would make plain data "predictable"; the bridge looks at the
    # object's own class, so such a file serves nothing.
    rscript(f"""
        training <- mtcars; settings <- list(a = 1); cutoffs <- c(1, 2)
        one <- lm(mpg ~ wt, mtcars)
        save(training, settings, cutoffs, file = "{model_dir / 'data_only.rda'}")
        save(one, training, settings, file = "{model_dir / 'mixed.rda'}")
    """)
    server = start_server(model_dir, "--reload-interval", "0")
    listing = {m["name"]: m for m in requests.get(f"{server.url}/models", timeout=TIMEOUT).json()["models"]}
    assert listing["data_only"]["status"] == "error"
    assert listing["mixed"]["status"] == "loaded" and listing["mixed"]["object"] == "one"
    assert set(listing) == {"data_only", "mixed"}


def test_is_model_looks_at_the_class_predict_dispatches_on():
    """In R itself: a package's predict.list does not make a list a model;
    an S4 object whose method is inherited from its superclass is one, and so
    are lme4's (S3 method of an S4 superclass) and kernlab's (its own S4
    generic)."""
    out = rscript("""
        env <- new.env()
        for (f in sort(Sys.glob("r_scripts/bridge/*.R"))) sys.source(f, envir = env)
        registerS3method("predict", "list", function(object, ...) 1)
        registerS3method("predict", "data.frame", function(object, ...) 1)
        setClass("base_fit", representation(x = "numeric"))
        setClass("child_fit", contains = "base_fit")
        setGeneric("predict")
        setMethod("predict", "base_fit", function(object, ...) 1)
        glmer <- lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
                             data = lme4::cbpp, family = binomial)
        ksvm <- kernlab::ksvm(Species ~ ., data = iris)
        cat("RESULT", env$bridge_is_model(list(a = 1)), env$bridge_is_model(mtcars),
            env$bridge_is_model(1:3), env$bridge_is_model(structure(list(), class = "list")),
            env$bridge_is_model(new("child_fit", x = 1)), env$bridge_is_model(glmer),
            env$bridge_is_model(ksvm), env$bridge_is_model(lm(mpg ~ wt, mtcars)), "\\n")
    """, cwd=str(ROOT))
    got = out[out.index("RESULT"):].split()[1:]
    assert got == ["FALSE", "FALSE", "FALSE", "FALSE", "TRUE", "TRUE", "TRUE", "TRUE"]


# ---- 1. exactly one prediction per row -------------------------------------------

@pytest.mark.parametrize("body, n, what", [
    # a one-row named vector that is not the model's output columns
    ("c(a = 1, b = 2)", 1, "length 2 named a, b"),
    # fewer values than rows, without names to put them back by
    ("rep(1, max(1, nrow(newdata) - 1))", 3, "length 2"),
    # a matrix of the wrong row count
    ("matrix(1, nrow = nrow(newdata) + 1, ncol = 2)", 2, "dimensions 3 x 2"),
    # a list whose per-row part does not fit
    ("list(fit = matrix(1, 2, 2))", 3, "list of 1 parts"),
])
def test_a_result_that_is_not_one_per_row_is_a_500_saying_what_r_returned(
        model_dir, start_server, body, n, what):
    copy_model(ROOT / "r_models" / "mtcars_lm.rds", model_dir, "odd.rds")
    (model_dir / "odd.R").write_text(f"predict_fn <- function(model, newdata) {body}\n")
    server = start_server(model_dir, "--reload-interval", "0")
    rows = [{"wt": 2.5 + i, "hp": 100 + i, "cyl": "6"} for i in range(n)]
    resp = predict(server, "odd", rows)
    assert resp.status_code == 500, resp.text
    assert what in resp.json()["description"] and "not one prediction per row" in resp.json()["description"]


def test_the_python_side_checks_the_row_count_too():
    from bridge.errors import ModelError
    from bridge.prediction import Prediction
    from bridge.r.model import _one_per_row

    ok = Prediction("table", {"a": [1, 2], "b": [3, 4]}, {}, [])
    assert _one_per_row(ok, 2) is ok
    for bad in (Prediction("vector", {"prediction": [1, 2, 3]}, {}, []),
                Prediction("table", {"a": [1, 2], "b": [3]}, {}, []),
                Prediction("table", {}, {}, [])):
        with pytest.raises(ModelError):
            _one_per_row(bad, 2)


# ---- 2. no string reaches R's default factor coding -------------------------------

def test_a_factor_whose_levels_the_model_does_not_keep_is_refused(server, fixture_models):
    rows = [{"wt": 2.62, "hp": 110, "cyl": "6"}]
    resp = predict(server, "svm_factor", rows)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["column"] == "cyl" and "attach_ptype" in body["description"]
    # a number for it is no better: it would be coded by the request's own levels too
    resp = predict(server, "svm_factor", [{"wt": 2.62, "hp": 110, "cyl": 6}])
    assert resp.status_code == 422 and resp.json()["column"] == "cyl"
    inputs = requests.get(f"{server.url}/models/svm_factor", timeout=TIMEOUT).json()["inputs"]
    assert inputs["complete"] is False


def test_levels_kept_only_in_the_model_object_are_recovered(server):
    """naiveBayes keeps levels in its tables, ipred in its trees, nlme in
    contrast matrices: each becomes a typed factor input."""
    for name, column in [("naivebayes_iris", "soil"), ("bagging_mtcars", "cyl"), ("gls_mtcars", "cyl")]:
        inputs = requests.get(f"{server.url}/models/{name}", timeout=TIMEOUT).json()["inputs"]["columns"]
        col = next(c for c in inputs if c["name"] == column)
        assert col["type"] == "factor" and col["levels"], (name, col)


# ---- 6. errors speak the caller's language ------------------------------------------

def test_an_r_error_caused_by_an_argument_is_a_422_naming_it(server, fixture_models):
    case = load_case(fixture_models, "ranger_reg")
    resp = predict(server, "ranger_reg", case["rows"], {"num.trees": "all"})
    assert resp.status_code == 422, resp.text
    assert "num.trees" in resp.json()["description"]


def test_arguments_that_fail_only_together_are_named_together(server, fixture_models):
    """predict.glm reads dispersion only for se.fit = TRUE: R fails without
    either one gone, so both are named (not whichever was tried first), and
    an innocent argument beside them is not."""
    case = load_case(fixture_models, "glm_binomial")
    for args in ({"se.fit": True, "dispersion": "x"}, {"dispersion": "x", "se.fit": True},
                 {"type": "response", "se.fit": True, "dispersion": "x"}):
        resp = predict(server, "glm_binomial", case["rows"], args)
        assert resp.status_code == 422, resp.text
        assert sorted(resp.json()["argument"]) == ["dispersion", "se.fit"], resp.text
        assert "together" in resp.json()["description"]
    # alone, R ignores dispersion: R's own answer, not a refusal
    assert predict(server, "glm_binomial", case["rows"], {"dispersion": "x"}).status_code == 200


def test_an_argument_r_rejects_is_named_even_when_the_rows_need_the_others(server, fixture_models):
    """Groups lmer never saw need allow.new.levels = TRUE, so R fails without
    every argument: the one without which it succeeds (a bad newparams) is
    the caller's, a 422 naming it, not the model's 500."""
    case = load_case(fixture_models, "lmer_new_levels")
    for bad in ("bridge_canary", 3, [1, 2]):
        resp = predict(server, "lmer_new_levels", case["rows"], {**case["args"], "newparams": bad})
        assert resp.status_code == 422, resp.text
        assert resp.json()["argument"] == "newparams", resp.text
    resp = predict(server, "lmer_new_levels", case["rows"], case["args"])
    assert resp.status_code == 200 and all(close(g, w) for g, w in
                                           zip(resp.json()["predictions"], case["expected"]))


def test_an_r_error_caused_by_a_value_is_a_422_naming_the_column(server, fixture_models):
    case = load_case(fixture_models, "gls_mtcars")
    rows = [dict(row) for row in case["rows"]]
    rows[1]["wt"] = None
    resp = predict(server, "gls_mtcars", rows)
    assert resp.status_code == 422, resp.text
    assert resp.json()["column"] == "wt" and resp.json()["row"] == 2


def test_a_misspelled_key_in_one_row_is_named_with_the_column_it_lacks(server):
    rows = [{"wt": 2.5, "hp": 100}, {"wt": 2.62, "hpp": 110}]
    resp = predict(server, "multi.first", rows)
    assert resp.status_code == 422, resp.text
    text = resp.json()["description"]
    assert "'hp'" in text and "'hpp'" in text and "row 2" in text


def test_a_key_every_row_carries_is_still_ignored(server):
    rows = [{"wt": 2.5, "hp": 100, "id": 1}, {"wt": None, "hp": 110, "id": 2}]
    assert predict(server, "multi.first", rows).status_code == 200


@pytest.mark.parametrize("path, sent, suggestion", [
    ("/models/multi.frist/predict", [{"wt": 2.5, "hp": 100}], "multi.first"),
    ("/models/LM_FACTOR/predict", [{"wt": 2.5}], "lm_factor"),
    ("/models/multi.first/predict", [{"wt": 2.5, "HP": 100}], "hp"),
    ("/models/multi.first/predict", [{"wt": 2.5, "hpp": 100}], "hp"),
    ("/models/lm_factor/predict", [{"wt": 2.5, "cyl": "6", "power": "Low", "gear": 4}], "low"),
])
def test_did_you_mean(server, path, sent, suggestion):
    resp = requests.post(server.url + path, json=sent, timeout=TIMEOUT)
    assert resp.status_code in (404, 422), resp.text
    assert f"did you mean '{suggestion}'" in resp.json()["description"]


@pytest.mark.parametrize("value, shown", [
    ("2.62", 'the string "2.62"'), (True, "true"), ("heavy", '"heavy"'), ([1], "[1]"),
])
def test_values_are_shown_as_json(server, value, shown):
    resp = predict(server, "multi.first", [{"wt": value, "hp": 100}])
    assert resp.status_code == 422, resp.text
    assert f"expected a number, got {shown}" in resp.json()["description"]


# ---- issue 23: the models people fit today ------------------------------------

def inputs_of(server, name):
    return requests.get(f"{server.url}/models/{name}", timeout=TIMEOUT).json()["inputs"]


@pytest.mark.parametrize("name, inputs", [
    # a recipe: predictors only, not its outcome (mpg) nor its ID role (car)
    ("caret_recipe", {"wt", "hp", "cyl"}),
    ("caret_recipe_prob", {"Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width", "soil"}),
    # a formula: terms less the response; weights are never inputs
    ("caret_train", {"wt", "hp", "cyl"}),
    ("lm_transforms", {"x", "z", "g"}),
    ("survreg_strata", {"age", "ph.ecog", "sex"}),
    # nlme's nonlinear parameters (Asym, R0, lrc) are the model's, not inputs
    ("nlme_loblolly", {"age", "Seed"}),
    ("rqss_mtcars", {"wt", "hp"}),
    # ns(wt, knots = k), bs(hp, df = dfree): k and dfree are baked into predvars
    ("lm_spline_args", {"wt", "hp", "qsec"}),
])
def test_no_variable_the_model_does_not_read_is_an_input(server, name, inputs):
    assert {c["name"] for c in inputs_of(server, name)["columns"]} == inputs


@pytest.mark.parametrize("name, column, kind, levels", [
    ("party_ctree", "soil", "factor", ["sand", "clay", "loam"]),      # S4 ModelEnv data slot
    ("party_ctree_reg", "power", "ordered", ["low", "mid", "high"]),
    ("prophet_promo", "ds", "POSIXct", None),                         # its history
    ("caret_recipe", "cyl", "factor", ["4", "6", "8"]),               # the recipe's template
    ("svm_with_data", "cyl", "factor", ["4", "6", "8"]),              # $call$data, in the file
    ("survreg_strata", "sex", "factor", ["male", "female"]),          # names of its scales
    ("mclustda_iris", "Petal.Width", "numeric", None),                # its training matrix
    ("mars_matrix", "disp", "numeric", None),
    # strata() of a factor: its levels are the strata's labels (coxph's
    # xlevels, survreg's scale names: "male", or "sex=male, ph.ecog=1")
    ("coxph_strata_factor", "sex", "factor", ["male", "female"]),
    ("survreg_strata_two", "sex", "factor", ["male", "female"]),
    ("coxph_strata_numlevels", "ecog", "factor", ["0", "1", "2", "3"]),   # "0", not "ecog=0"
    ("clm_scale", "contact", "factor", ["no", "yes"]),
])
def test_types_the_object_or_its_file_records_are_found(server, name, column, kind, levels):
    inputs = inputs_of(server, name)
    col = next(c for c in inputs["columns"] if c["name"] == column)
    assert col["type"] == kind and (levels is None or col["levels"] == levels), col
    assert inputs["complete"] is True, inputs


def test_the_same_model_without_its_data_in_the_file_is_refused_with_the_ptype_remedy(server):
    resp = predict(server, "svm_factor", [{"wt": 2.62, "hp": 110, "cyl": "6"}])
    assert resp.status_code == 422 and "attach_ptype" in resp.json()["description"]


def test_a_list_result_is_one_row_per_input_row(server, fixture_models):
    case = load_case(fixture_models, "smooth_spline")
    got = predict(server, "smooth_spline", case["rows"]).json()["predictions"]
    assert [set(row) for row in got] == [{"x", "y"}] * len(case["rows"])
    assert [row["x"] for row in got] == [row["x"] for row in case["rows"]]


def test_a_model_fitted_on_a_model_matrix_says_its_inputs_are_the_matrix_columns(server):
    resp = predict(server, "glmnet_mm", [{"wt": 2.62, "hp": 110, "cyl": "6"}])
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert set(body["missing_columns"]) == {"cyl6", "cyl8"}
    assert "numeric matrix" in body["description"] and "predict_fn" in body["description"]


# ---- issue 23, class 5: the refusal names what is wrong --------------------------

def factor_cases(server, fixture_models):
    """(case, factor column) for every fixture case with a factor input
    whose unseen levels R refuses too (not a random effect's groups under
    allow.new.levels = TRUE or level = 0: new_levels_with)."""
    out = []
    for name in MATRIX:
        case = load_case(fixture_models, name)
        cols = inputs_of(server, case["model"])["columns"]
        factors = [c["name"] for c in cols if c["type"] in ("factor", "ordered") and c.get("levels")
                   and not c.get("new_levels_with")]
        if factors and len(cols) > 1:
            out.append((case, factors[0], [c["name"] for c in cols]))
    return out


def test_an_unseen_level_is_named_before_anything_else_the_request_lacks(server, fixture_models):
    """Every fixture model with a factor input: a row with a level the model
    never saw, and another input left out, is the 422 naming the level's
    column and value, not the missing column (nor R's own error)."""
    cases = factor_cases(server, fixture_models)
    assert len(cases) >= 20
    for case, column, names in cases:
        other = next(n for n in names if n != column)
        rows = [{k: v for k, v in row.items() if k != other} for row in case["rows"]]
        rows[-1][column] = "never-seen"
        resp = predict(server, case["model"], rows, case["args"])
        assert resp.status_code == 422, (case["model"], resp.text)
        body = resp.json()
        assert (body.get("column"), body.get("value"), body.get("row")) == (column, "never-seen", len(rows)), \
            (case["model"], body)
        # with every input sent, the same refusal
        rows = [dict(row) for row in case["rows"]]
        rows[0][column] = "never-seen"
        body = predict(server, case["model"], rows, case["args"]).json()
        assert (body.get("column"), body.get("value")) == (column, "never-seen"), (case["model"], body)


def test_a_recipe_model_names_the_unseen_level_not_the_columns_it_does_not_need(server):
    # R itself fails first here on the ID column recipes wants at bake().
    resp = predict(server, "caret_recipe", [{"wt": 2.62, "hp": 110, "cyl": "5"}])
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["column"] == "cyl" and body["value"] == "5" and "missing_columns" not in body
    assert "training levels" in body["description"]


def test_a_hardhat_blueprint_records_the_predictors_and_their_types():
    """In R itself: a model built on hardhat's mold() (no Debian package fits
    one, so a minimal class here) takes exactly its blueprint's predictors,
    typed as they were, not the outcome."""
    out = rscript("""
        env <- new.env()
        for (f in sort(Sys.glob("r_scripts/bridge/*.R"))) sys.source(f, envir = env)
        d <- transform(mtcars, cyl = factor(cyl, levels = c("8", "4", "6")))
        bp <- hardhat::mold(mpg ~ wt + cyl, d)$blueprint
        fit <- hardhat::new_model(blueprint = bp, class = "toy_fit")
        found <- env$bridge_inputs(fit)
        cat("RESULT", found$source, "|", names(found$columns), "|", levels(found$columns$cyl), "\\n")
    """, cwd=str(ROOT))
    got = out[out.index("RESULT"):].split("|")
    assert got[0].split(None, 1)[1].strip() == "hardhat blueprint ptypes"
    assert got[1].split() == ["wt", "cyl"] and got[2].split() == ["8", "4", "6"]


def test_a_recipe_with_step_novel_takes_labels_it_never_saw_as_r_does(server, fixture_models):
    """Where the model itself handles an unseen label (step_novel), it is not
    refused: R's answer for it is the case's (row 2 and 5 carry "5", "12")."""
    col = next(c for c in inputs_of(server, "caret_recipe_novel")["columns"] if c["name"] == "cyl")
    assert col["type"] == "character"
    case = load_case(fixture_models, "caret_recipe_novel")
    assert {"5", "12"} <= {row["cyl"] for row in case["rows"]}


# ---- issue 7: the models people write today, beyond the fixtures' first set ----

def test_a_recipe_that_pools_unseen_labels_takes_them_as_r_does(server, fixture_models):
    """step_other turns a label outside the levels it keeps, one it never
    saw included, into "other": R answers for it (rows 2 and 5 carry "5",
    "12"), so the column takes labels, not only the training levels."""
    col = next(c for c in inputs_of(server, "caret_recipe_other")["columns"] if c["name"] == "carb")
    assert col["type"] == "character" and col["levels"] == ["1", "2", "3", "4", "6", "8"]
    case = load_case(fixture_models, "caret_recipe_other")
    assert {"5", "12"} <= {row["carb"] for row in case["rows"]}


@pytest.mark.parametrize("name, column", [("caret_recipe_other", "carb"), ("caret_recipe_novel", "cyl")])
def test_a_recipe_factor_taking_any_label_takes_numbers_naming_them(server, fixture_models, name, column):
    """As for any factor, 4 (or 4.0) names label "4", seen or not: R's answer
    for the labels (it was "expected a string, got 4")."""
    case = load_case(fixture_models, name)
    rows = [{**row, column: float(row[column])} for row in case["rows"]]
    resp = predict(server, name, rows, case["args"])
    assert resp.status_code == 200, resp.text
    assert all(close(g, w) for g, w in zip(resp.json()["predictions"], case["expected"]))


def test_a_stratum_never_seen_is_refused_naming_it(server, fixture_models):
    case = load_case(fixture_models, "coxph_strata_factor")
    rows = [dict(row) for row in case["rows"]]
    rows[2]["sex"] = "other"
    resp = predict(server, "coxph_strata_factor", rows, case["args"])
    assert resp.status_code == 422, resp.text
    assert (resp.json()["column"], resp.json()["row"], resp.json()["value"]) == ("sex", 3, "other")


@pytest.mark.parametrize("name", ["survreg_strata_num", "coxph_strata_lp", "survreg_strata_two"])
def test_strata_of_a_number_take_numbers(server, name):
    """strata(ph.ecog) of a numeric column: labels "ph.ecog=1" are not its
    levels (survreg refused 1 for want of "ph.ecog=1"); it is numeric."""
    col = next(c for c in inputs_of(server, name)["columns"] if c["name"] == "ph.ecog")
    assert col["type"] == "numeric", col


@pytest.mark.parametrize("name, column, args", [
    ("lmer_new_levels", "Subject", {"allow.new.levels": True}),
    ("lme_level0", "Subject", {"level": 0}),
])
def test_groups_never_seen_are_taken_only_where_the_arguments_let_r_take_them(
        server, fixture_models, name, column, args):
    """The case's rows hold groups the model never saw, answered by R with
    the fixed effects alone under these arguments (test_many_rows_equal_r).
    Without them (lme4 refuses; nlme answers NA silently at level 1), or
    with a value that only looks like it (false, 1), the group is refused
    before R, naming it."""
    col = next(c for c in inputs_of(server, name)["columns"] if c["name"] == column)
    assert col["new_levels_with"] == args
    case = load_case(fixture_models, name)
    assert case["args"] == args
    unseen = next(i for i, row in enumerate(case["rows"]) if row[column] not in col["levels"])
    (arg, value), = args.items()
    for other in ({}, {arg: False if value is True else 1}):
        resp = predict(server, name, case["rows"], other)
        assert resp.status_code == 422, (other, resp.text)
        body = resp.json()
        assert (body["column"], body["row"]) == (column, unseen + 1), body


def test_the_rows_go_where_the_predict_method_takes_them():
    """In R itself: a class outside adapters.R's table whose predict() has no
    newdata takes the rows under the name its method gives them (kpca's x is
    the fixture kpca_iris; tidymodels' new_data has no Debian package, so a
    toy class here); a method with newdata, or whose second formal is not
    such a name, keeps newdata."""
    out = rscript("""
        env <- new.env()
        for (f in sort(Sys.glob("r_scripts/bridge/*.R"))) sys.source(f, envir = env)
        registerS3method("predict", "toy_new_data", function(object, new_data, type = "numeric", ...) 1)
        registerS3method("predict", "toy_horizon", function(object, n.ahead = 1, ...) 1)
        arg <- function(m) { a <- env$bridge_data_adapter(m); if (is.null(a)) "newdata" else a$arg }
        cat("RESULT", arg(structure(list(), class = "toy_new_data")),
            arg(structure(list(), class = "toy_horizon")), arg(lm(mpg ~ wt, mtcars)), "\\n")
    """, cwd=str(ROOT))
    assert out[out.index("RESULT"):].split()[1:] == ["new_data", "newdata", "newdata"]


def test_per_row_attributes_stay_on_their_rows_when_r_drops_a_row(server, fixture_models):
    """svm drops a row with a missing value from its labels and from its
    probabilities attribute alike: that row is null in every field, the
    others R's own."""
    case = load_case(fixture_models, "svm_probabilities")
    rows = [dict(row) for row in case["rows"][:3]]
    rows[1]["Petal.Width"] = None
    resp = predict(server, "svm_probabilities", rows, case["args"])
    assert resp.status_code == 200, resp.text
    got = resp.json()["predictions"]
    assert set(got[1]) == set(case["expected"][1]) and all(v is None for v in got[1].values())
    assert close(got[0], case["expected"][0]) and close(got[2], case["expected"][2])


def test_a_matrix_column_is_one_input_per_matrix_column(server, fixture_models):
    """plsr(octane ~ NIR) on spectra: NIR was a 401-column matrix. The
    inputs are its columns, named as write.csv() names them (R refused the
    one column the bridge asked for: "fitted with type nmatrix.401", a 500);
    one left out is named."""
    cols = inputs_of(server, "pls_gasoline")["columns"]
    assert len(cols) == 401 and cols[0] == {"name": "NIR.900 nm", "type": "numeric", "required": True}
    case = load_case(fixture_models, "pls_gasoline")
    rows = [{k: v for k, v in row.items() if k != "NIR.902 nm"} for row in case["rows"]]
    resp = predict(server, "pls_gasoline", rows, case["args"])
    assert resp.status_code == 422 and resp.json()["missing_columns"] == ["NIR.902 nm"], resp.text


def test_an_unseen_level_is_sent_as_na_only_for_the_exact_argument_value():
    """The front's half of new_levels: with the rule's argument at its value
    (true is not 1, 0 is not false) an unseen level of that column is NA;
    any other column, or other arguments, still refuse it."""
    from bridge.convert import INT_NA
    from bridge.errors import InputError
    from bridge.schema import Column, Schema
    from bridge.table import Table, prepare_table

    schema = Schema((Column("g", "factor", ("a", "b")), Column("h", "factor", ("x",))), "test",
                    new_levels=((("g",), "allow.new.levels", True),))
    table = Table({"g": ["a", "new", 7], "h": ["x", "x", "x"]}, 3)
    got = prepare_table(schema, table, {"allow.new.levels": True})
    assert list(got[0].data) == [1, INT_NA, INT_NA]
    for args in (None, {}, {"allow.new.levels": 1}, {"allow.new.levels": False}, {"other": True}):
        with pytest.raises(InputError):
            prepare_table(schema, table, args)
    with pytest.raises(InputError):
        prepare_table(schema, Table({"g": ["a"] * 3, "h": ["x", "new", "x"]}, 3), {"allow.new.levels": True})
    level0 = Schema(schema.columns, "test", new_levels=((("g",), "level", 0),))
    assert list(prepare_table(level0, table, {"level": 0.0})[0].data)[1] == INT_NA
    with pytest.raises(InputError):
        prepare_table(level0, table, {"level": False})


def test_a_response_predict_reads_for_some_arguments_is_an_optional_input(server, fixture_models):
    """coxph's type = "expected" reads time and status from newdata (the
    case; they were dropped as unknown keys and R failed: 'status' not
    found); they are not asked for otherwise: type = "lp" predicts without."""
    cols = {c["name"]: c for c in inputs_of(server, "coxph_expected")["columns"]}
    assert (cols["time"]["required"], cols["status"]["required"], cols["age"]["required"]) == (False, False, True)
    case = load_case(fixture_models, "coxph_expected")
    rows = [{k: v for k, v in row.items() if k not in ("time", "status")} for row in case["rows"]]
    resp = predict(server, "coxph_expected", rows, {"type": "lp"})
    assert resp.status_code == 200 and len(resp.json()["predictions"]) == len(rows), resp.text
    resp = predict(server, "coxph_expected", rows, case["args"])
    assert resp.status_code == 422 and "status" in resp.json()["description"], resp.text


def test_a_null_group_with_allow_new_levels_is_the_population_answer(server, fixture_models):
    """What docs/models.md says stands in for re.form = NA: a null group
    under allow.new.levels = true answers as R does for a group it never
    saw (rows 2 and 4 of the case: "999", "new"), the fixed effects alone."""
    case = load_case(fixture_models, "lmer_new_levels")
    rows = [dict(row) for row in case["rows"]]
    for i in (1, 3):
        rows[i]["Subject"] = None
    resp = predict(server, "lmer_new_levels", rows, case["args"])
    assert resp.status_code == 200, resp.text
    assert all(close(g, w) for g, w in zip(resp.json()["predictions"], case["expected"]))

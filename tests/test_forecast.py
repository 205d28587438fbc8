"""Forecasters over HTTP on a real server, compared with R's own forecast().

The fixtures and their expected answers come from r_scripts/train_forecasters.R
(real R, real model files); every mean and every interval bound must match at
1e-9. The rest are the guard rails: horizon and level bounds, regressors
typed like any input, args that are data only, and applying a fitted model to
another series.
"""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import CLEAN_ENV, ROOT, Server, rscript

TIMEOUT = 60
# Every fixture train_forecasters.R writes a case for (checked below, so a new
# fixture cannot be skipped silently).
CASES = ["arima_seasonal", "arima_nonseasonal", "arima_drift", "arima_xreg", "stats_arima_xreg",
         "ets_damped", "ets_seasonal", "hw_additive", "hw_multiplicative", "structts",
         "tslm_season", "tbats_short", "nnetar_seeded", "ets_weekly", "stl_periodic"]
APPLY_CASES = ["arima_seasonal", "ets_damped"]


@pytest.fixture(scope="module")
def forecasters(tmp_path_factory):
    out = tmp_path_factory.mktemp("forecasters")
    done = subprocess.run(["Rscript", str(ROOT / "r_scripts" / "train_forecasters.R"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def server(forecasters):
    srv = Server(forecasters, "--reload-interval", "0")
    yield srv
    srv.stop()


def case(folder, name):
    return json.loads((Path(folder) / f"{name}.case.json").read_text())


def forecast(server, name, body, **kwargs):
    return requests.post(f"{server.url}/models/{name}/forecast", json=body, timeout=TIMEOUT, **kwargs)


def assert_matches(rows, expected):
    """Rows of the answer against R's columns: same steps, times and fields,
    every number at 1e-9."""
    assert [r["step"] for r in rows] == expected["step"]
    assert [r["time"] for r in rows] == expected["time"]
    numeric = [k for k in expected if k not in ("step", "time")]
    for row in rows:
        assert sorted(row) == sorted(["step", "time", *numeric]), row
    for key in numeric:
        got = [r[key] for r in rows]
        assert got == pytest.approx(expected[key], rel=1e-9, abs=1e-9), key


def test_every_fixture_has_a_case(forecasters):
    written = sorted(p.name[: -len(".case.json")] for p in forecasters.glob("*.case.json"))
    assert written == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_forecast_is_rs_own(server, forecasters, name):
    c = case(forecasters, name)
    resp = forecast(server, name, c["request"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model"] == name
    assert_matches(body["forecast"], c["expected"])


@pytest.mark.parametrize("name", CASES)
def test_describe_shows_the_forecaster(server, forecasters, name):
    c = case(forecasters, name)
    resp = requests.get(f"{server.url}/models/{name}", timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["kind"] == "forecaster"
    info = body["forecaster"]
    assert info["frequency"] == c["info"]["frequency"]
    assert info["last_time"] == c["info"]["last_time"]
    assert info["regressors"] == {"names": c["info"]["regressors"],
                                  "count": len(c["info"]["regressors"])}
    assert info["default_levels"] == [80, 95]
    # The regressors are the model's inputs, typed.
    assert [col["name"] for col in body["inputs"]["columns"]] == c["info"]["regressors"]


@pytest.mark.parametrize("name", CASES)
def test_csv_answer_is_the_json_answer(server, forecasters, name):
    c = case(forecasters, name)
    as_json = forecast(server, name, c["request"]).json()["forecast"]
    resp = forecast(server, name, c["request"], headers={"Accept": "text/csv"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert list(rows[0]) == list(as_json[0])
    for got, want in zip(rows, as_json, strict=True):
        for key, value in want.items():
            if isinstance(value, float):
                assert float(got[key]) == value, key
            else:
                assert got[key] == str(value), key


@pytest.mark.parametrize("name", APPLY_CASES)
def test_apply_to_another_series_is_rs_own(server, forecasters, name):
    c = case(forecasters, name)
    resp = forecast(server, name, c["apply"]["request"])
    assert resp.status_code == 200, resp.text
    assert_matches(resp.json()["forecast"], c["apply"]["expected"])


def test_listing_and_predict_know_the_kind(server):
    models = {m["name"]: m for m in requests.get(f"{server.url}/models", timeout=TIMEOUT).json()["models"]}
    assert models["cars_lm"]["kind"] == "model"
    assert {models[n]["kind"] for n in CASES} == {"forecaster"}
    # A regression is not a forecaster, even though forecast.lm() exists.
    resp = requests.post(f"{server.url}/models/cars_lm/predict", json=[{"speed": 10}], timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    resp = forecast(server, "cars_lm", {"h": 3})
    assert resp.status_code == 422 and "/predict" in resp.json()["description"], resp.text


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("body", [[{}], {"data": [], "args": {"n.ahead": 12}}, {"data": [{"x": 1}]}])
def test_predict_on_a_forecaster_points_to_forecast(server, name, body):
    resp = requests.post(f"{server.url}/models/{name}/predict", json=body, timeout=TIMEOUT)
    assert resp.status_code == 422, resp.text
    assert resp.json()["forecast"] == f"/models/{name}/forecast"


# ---- guard rails ---------------------------------------------------------------------

@pytest.mark.parametrize("h", [0, -1, 10_001, 1.5, "12", True, [12], {"h": 1}])
def test_h_out_of_bounds_or_not_a_whole_number(server, h):
    resp = forecast(server, "arima_seasonal", {"h": h})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "h"


def test_max_horizon_is_configurable(forecasters):
    srv = Server(forecasters, "--reload-interval", "0", env={"BRIDGE_MAX_HORIZON": "5"})
    try:
        assert forecast(srv, "ets_damped", {"h": 5}).status_code == 200
        resp = forecast(srv, "ets_damped", {"h": 6})
        assert resp.status_code == 422 and "BRIDGE_MAX_HORIZON" in resp.json()["description"]
        # xreg rows are steps too.
        resp = forecast(srv, "arima_xreg", {"xreg": {"price": [10] * 6, "promo": [0] * 6}})
        assert resp.status_code == 422, resp.text
    finally:
        srv.stop()


@pytest.mark.parametrize("level", [0, 100, -5, 101, "80", True, [], [80, "95"], [80, None],
                                   list(range(1, 30)), {"80": 1}])
def test_bad_levels(server, level):
    resp = forecast(server, "hw_additive", {"h": 3, "level": level})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "level"


def test_levels_are_named_as_asked(server):
    body = forecast(server, "hw_additive", {"h": 2, "level": [97.5, 50]}).json()
    assert sorted(body["forecast"][0]) == sorted(["step", "time", "mean", "lower_50", "upper_50",
                                                  "lower_97.5", "upper_97.5"])
    # Fractions are read as forecast() reads them.
    assert forecast(server, "hw_additive", {"h": 2, "level": [0.8, 0.95]}).json() == \
        forecast(server, "hw_additive", {"h": 2, "level": [80, 95]}).json()


# Levels as R reads them, including fractions of a percent (0.005 is 0.5 %:
# forecast() scales values below 1 once; the bridge once scaled them too, so
# R scaled them a second time and 0.005 answered a 50 % interval).
LEVEL_CASES = [[0.005], [0.001, 0.009], [0.5], [0.25, 0.75], [0.5, 2], [50], [0.009, 0.99],
               [99.9, 0.1], [1e-6]]
LEVEL_H = 2
LEVEL_MODELS = ["arima_seasonal", "arima_drift", "ets_damped", "hw_additive", "hw_multiplicative",
                "structts", "tslm_season", "stl_periodic"]


def test_levels_match_rs_own_forecast(server, forecasters):
    code = f"""
    suppressMessages(library(forecast))
    out <- list()
    for (name in c({", ".join(f"'{m}'" for m in LEVEL_MODELS)})) {{
      m <- readRDS(file.path('{forecasters.as_posix()}', paste0(name, '.rds')))
      for (i in seq_along(levels <- {levels_r()})) {{
        fc <- forecast(m, h = {LEVEL_H}, level = levels[[i]])
        out[[paste(name, i)]] <- list(label = as.character(fc$level), lower = as.numeric(fc$lower),
                                      upper = as.numeric(fc$upper))
      }}
    }}
    cat(jsonlite::toJSON(out, digits = NA))
    """
    want = json.loads(rscript(code))
    for name in LEVEL_MODELS:
        for i, levels in enumerate(LEVEL_CASES, start=1):
            r = want[f"{name} {i}"]
            body = forecast(server, name, {"h": LEVEL_H, "level": levels})
            assert body.status_code == 200, body.text
            rows = body.json()["forecast"]
            for j, label in enumerate(r["label"]):
                cols = slice(j * LEVEL_H, (j + 1) * LEVEL_H)  # R's lower/upper: one column per level
                for side in ("lower", "upper"):
                    got = [row[f"{side}_{label}"] for row in rows]
                    assert got == pytest.approx(r[side][cols], rel=1e-9), (name, levels, side)
            assert len(rows[0]) == 3 + 2 * len(r["label"]), (name, levels, sorted(rows[0]))


def levels_r():
    return "list(" + ", ".join("c(" + ", ".join(repr(v) for v in case) + ")" for case in LEVEL_CASES) + ")"


def test_missing_xreg_names_the_regressors(server):
    resp = forecast(server, "arima_xreg", {"h": 6})
    assert resp.status_code == 422, resp.text
    assert resp.json()["missing_columns"] == ["price", "promo"]
    assert "'price'" in resp.json()["description"] and "'promo'" in resp.json()["description"]


def test_xreg_missing_one_column(server):
    resp = forecast(server, "arima_xreg", {"xreg": {"price": [10, 11]}})
    assert resp.status_code == 422, resp.text
    assert resp.json()["missing_columns"] == ["promo"]


@pytest.mark.parametrize("bad", ["cheap", True, [1], {"v": 1}])
def test_xreg_typed_like_any_input(server, bad):
    resp = forecast(server, "arima_xreg", {"xreg": [{"price": 10, "promo": 0}, {"price": bad, "promo": 1}]})
    assert resp.status_code == 422, resp.text
    assert resp.json()["column"] == "price" and resp.json()["row"] == 2


def test_xreg_rows_columns_and_plain_values_agree(server, forecasters):
    c = case(forecasters, "arima_xreg")
    cols = c["request"]["xreg"]
    rows = [dict(zip(cols, values)) for values in zip(*cols.values())]
    by_rows = forecast(server, "arima_xreg", {"level": [80, 95], "xreg": rows}).json()
    assert_matches(by_rows["forecast"], c["expected"])
    one = case(forecasters, "stats_arima_xreg")
    plain = forecast(server, "stats_arima_xreg", {"level": [80, 95], "xreg": one["request"]["xreg"]["t"]})
    assert plain.status_code == 200, plain.text
    assert_matches(plain.json()["forecast"], one["expected"])


def test_xreg_rows_must_match_h(server):
    resp = forecast(server, "arima_xreg", {"h": 3, "xreg": {"price": [10, 11], "promo": [0, 1]}})
    assert resp.status_code == 422 and resp.json()["field"] == "h", resp.text


@pytest.mark.parametrize("name", ["ets_damped", "hw_additive", "tbats_short"])
def test_xreg_for_a_model_without_regressors(server, name):
    resp = forecast(server, name, {"h": 2, "xreg": {"x": [1, 2]}})
    assert resp.status_code == 422 and resp.json()["field"] == "xreg", resp.text


HOSTILE_ARGS = [
    {"forecastfunction": "system"},                      # a string where a function goes
    {"forecastfunction": "function(...) system('id')"},
    {"FUN": "system"},                                   # not an argument of forecast.stl
    {"object": "x"}, {"h": 3}, {"level": 50}, {"newdata": 1}, {"xreg": 1}, {"...": 1}, {"": 1},
    {"method": {"nested": "x"}},
    {"method": [1, "a"]},
    {"fan": "TRUE; system('touch /tmp/bridge-forecast-pwned')"},   # a flag
    {"fan": 1},
]
MARKER = Path("/tmp/bridge-forecast-pwned")


@pytest.mark.parametrize("args", HOSTILE_ARGS)
def test_hostile_args_are_refused(server, args):
    MARKER.unlink(missing_ok=True)
    resp = forecast(server, "stl_periodic", {"h": 2, "args": args})
    assert resp.status_code == 422, resp.text
    assert not MARKER.exists()


@pytest.mark.parametrize("name,args", [
    ("stl_periodic", {"lambda": "system('touch /tmp/bridge-forecast-pwned')"}),
    ("stl_periodic", {"biasadj": "TRUE; system('touch /tmp/bridge-forecast-pwned')"}),
    ("arima_seasonal", {"biasadj": "system('touch /tmp/bridge-forecast-pwned')"}),
    ("ets_damped", {"lambda": "quote(system('touch /tmp/bridge-forecast-pwned'))"}),
])
def test_strings_stay_strings(server, name, args):
    """A string R has no use for is refused or ignored: never run."""
    MARKER.unlink(missing_ok=True)
    resp = forecast(server, name, {"h": 2, "args": args})
    plain = forecast(server, name, {"h": 2})
    assert resp.status_code == 422 or resp.json()["forecast"] == plain.json()["forecast"], resp.text
    assert not MARKER.exists()


def test_r_refuses_a_string_for_a_function_argument_itself(forecasters):
    """The R door checks args on its own, whatever the Python side let through."""
    out = rscript(f"""
        env <- new.env()
        for (f in sort(Sys.glob("{ROOT}/r_scripts/bridge/*.R"))) sys.source(f, envir = env)
        model <- readRDS("{forecasters}/stl_periodic.rds")
        r <- env$bridge_forecast(model, 2L, NULL, NULL, NULL, 0L, list(forecastfunction = "system"), 1L)
        cat(r$kind, "|", r$error)
        r <- env$bridge_forecast(model, 2L, NULL, NULL, NULL, 0L, list(object = 1), 1L)
        cat("\\n", r$kind)
    """)
    first, second = out.split("\n")
    assert first.startswith("input |") and "function" in first
    assert second.strip() == "input"


def test_npaths_is_bounded(server):
    resp = forecast(server, "nnetar_seeded", {"h": 2, "args": {"npaths": 10**9}})
    assert resp.status_code == 422, resp.text


@pytest.mark.parametrize("body,status", [
    ({"levels": [80]}, 400),          # a typo: did you mean 'level'?
    ([12], 400),
    ({"h": 2, "args": [1]}, 400),
])
def test_malformed_bodies(server, body, status):
    resp = forecast(server, "ets_damped", body)
    assert resp.status_code == status, resp.text
    if "levels" in body:
        assert "did you mean 'level'" in resp.json()["description"]


def test_csv_body_is_refused(server):
    resp = requests.post(f"{server.url}/models/ets_damped/forecast", data=b"h\n3\n",
                         headers={"Content-Type": "text/csv"}, timeout=TIMEOUT)
    assert resp.status_code == 415, resp.text


def test_unknown_arg_gets_a_hint(server):
    resp = forecast(server, "arima_seasonal", {"h": 2, "args": {"bootstrp": True}})
    assert resp.status_code == 422 and "did you mean 'bootstrap'" in resp.json()["description"]


# ---- simulated intervals: a seed ----------------------------------------------------------

def test_seed_makes_simulated_intervals_reproducible(server):
    body = {"h": 3, "args": {"npaths": 100}}
    first = forecast(server, "nnetar_seeded", {**body, "seed": 5}).json()
    again = forecast(server, "nnetar_seeded", {**body, "seed": 5}).json()
    other = forecast(server, "nnetar_seeded", {**body, "seed": 6}).json()
    assert first == again and first["seed"] == 5
    assert first["forecast"] != other["forecast"]
    # Without a seed the bridge picks one and says which: replaying it gives the same answer.
    free = forecast(server, "nnetar_seeded", body).json()
    replay = forecast(server, "nnetar_seeded", {**body, "seed": free["seed"]}).json()
    assert free == replay


def test_analytic_intervals_report_no_seed(server):
    assert "seed" not in forecast(server, "arima_seasonal", {"h": 2}).json()


@pytest.mark.parametrize("seed", ["1", 1.5, 2**40, True])
def test_bad_seeds(server, seed):
    resp = forecast(server, "nnetar_seeded", {"h": 2, "seed": seed})
    assert resp.status_code == 422 and resp.json()["field"] == "seed", resp.text


# ---- applying a fitted model to another series --------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"y": [float(i) for i in range(40)], "start": [1955, 1], "frequency": 4, "h": 2}, "frequency"),
    ({"y": [1.0, 2.0, 3.0], "start": [1955, 1], "h": 2}, "y"),
    ({"y": ["a"] * 40, "h": 2}, "y"),
    ({"y": [], "h": 2}, "y"),
    ({"y": [1.0] * 40, "start": "1955", "h": 2}, "start"),
    ({"y": [1.0] * 40, "frequency": -12, "h": 2}, "frequency"),
    ({"start": [1955, 1], "h": 2}, "start"),
])
def test_apply_refuses_what_does_not_fit(server, body, field):
    resp = forecast(server, "arima_seasonal", body)
    assert resp.status_code == 422, resp.text
    assert resp.json().get("field", resp.json().get("column")) == field


@pytest.mark.parametrize("name", ["arima_xreg", "tslm_season", "stl_periodic"])
def test_apply_only_where_supported(server, name):
    resp = forecast(server, name, {"y": [float(i % 12) for i in range(60)], "h": 2})
    assert resp.status_code == 422, resp.text
    info = requests.get(f"{server.url}/models/{name}", timeout=TIMEOUT).json()["forecaster"]
    assert info["apply_to_series"] is False


# ---- OpenAPI, Python client, CLI ---------------------------------------------------------------

def test_openapi_has_a_forecast_operation_per_forecaster(server):
    doc = requests.get(f"{server.url}/openapi.json", timeout=TIMEOUT).json()
    for name in CASES:
        assert "post" in doc["paths"][f"/models/{name}/forecast"]
        assert f"/models/{name}/predict" not in doc["paths"]
    assert "/models/cars_lm/predict" in doc["paths"]
    assert "/models/cars_lm/forecast" not in doc["paths"]


def test_client_forecast_without_rpy2(server, forecasters):
    c = case(forecasters, "arima_xreg")
    code = f"""
import sys, json
sys.modules["rpy2"] = None  # importing rpy2 now fails
import pandas as pd
from bridge.client import Client
xreg = pd.DataFrame({json.dumps(c["request"]["xreg"])})
df = Client("{server.url}").forecast("arima_xreg", level=[80, 95], xreg=xreg)
print(df.to_json(orient="columns", double_precision=15))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT, env=CLEAN_ENV)
    assert done.returncode == 0, done.stderr
    frame = json.loads(done.stdout)
    rows = [{k: frame[k][i] for k in frame} for i in sorted(frame["step"], key=int)]
    assert_matches(rows, c["expected"])


@pytest.mark.parametrize("where", ["url", "file"])
def test_cli_forecast_writes_csv(server, forecasters, tmp_path, where):
    c = case(forecasters, "structts")
    model = (f"{server.url}/models/structts" if where == "url" else str(forecasters / "structts.rds"))
    out = tmp_path / "out.csv"
    done = subprocess.run([sys.executable, "-m", "bridge", "forecast", model, "--h", "8",
                           "--level", "80", "--level", "95", "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=CLEAN_ENV)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    parsed = [{k: (int(v) if k == "step" else v if k == "time" else float(v)) for k, v in r.items()}
              for r in rows]
    assert_matches(parsed, c["expected"])


def test_cli_forecast_reports_errors(server, tmp_path):
    done = subprocess.run([sys.executable, "-m", "bridge", "forecast", f"{server.url}/models/arima_xreg",
                           "--h", "3", "-o", str(tmp_path / "x.csv")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=CLEAN_ENV)
    assert done.returncode == 1 and "price" in done.stderr, done.stderr


# ---- time labels (through R itself) ------------------------------------------------------------

@pytest.mark.parametrize("frequency", [1, 4, 12, 52, 365])
def test_time_labels_follow_the_calendar(frequency):
    """For many series starts, each of 300 steps is labelled as zoo (or the
    calendar) writes that time: ts()'s floating-point times never land in the
    wrong month, quarter or week."""
    out = rscript(f"""
        env <- new.env()
        for (f in sort(Sys.glob("{ROOT}/r_scripts/bridge/*.R"))) sys.source(f, envir = env)
        set.seed({frequency})
        f <- {frequency}
        bad <- 0
        for (i in 1:200) {{
          start <- c(sample(1800:2200, 1), sample(seq_len(f), 1))
          times <- as.numeric(time(ts(numeric(300), start = start, frequency = f)))
          got <- env$bridge_time_labels(times, f)
          idx <- (start[1] * f + start[2] - 1) + 0:299
          year <- idx %/% f
          cycle <- idx %% f + 1
          want <- switch(as.character(f),
            "1" = as.character(year),
            "4" = format(zoo::as.yearqtr(year + (cycle - 1) / 4), "%Y-Q%q"),
            "12" = format(zoo::as.yearmon(year + (cycle - 1) / 12), "%Y-%m"),
            "52" = sprintf("%d-W%02d", year, cycle),
            "365" = format(as.Date(sprintf("%d-01-01", year)) + cycle - 1))
          bad <- bad + sum(got != want) + anyDuplicated(got)
        }}
        cat(bad)
    """)
    assert out.strip() == "0"

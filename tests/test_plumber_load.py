"""Loading plumber.R files: what is refused and why, route clashes, and the
bridge serving its models and Plumber files side by side in one server."""

import shutil
import subprocess
import sys
import time

import pytest
import requests

from conftest import EXAMPLES, ROOT, copy_model

APIS = ROOT / "tests" / "plumber_apis"
REFUSED = APIS / "refused"


@pytest.mark.parametrize("name, reason", [
    ("async_promises.R", "async_promises.R:1: library(promises) (asynchronous endpoints)"),
    ("async_promises.R", "async_promises.R:5: the promise pipe %...>%"),
    ("assets.R", "assets.R:1: @assets (static files)"),
    ("mounted.R", "mounted routers (/sub/)"),
    ("exit_hook.R", '"exit" hook would never run'),
    ("websocket.R", "websocket.R:3: websockets (onWSOpen)"),
])
def test_unsupported_features_are_refused_at_load(session, name, reason):
    from bridge.errors import PlumberLoadError
    from bridge.plumber import PlumberApis

    with pytest.raises(PlumberLoadError) as caught:
        PlumberApis([REFUSED / name], session)
    assert f"{name} cannot be served" in caught.value.description
    assert reason in caught.value.description, caught.value.description


def test_an_async_file_is_refused_before_it_runs(session, tmp_path):
    from bridge.errors import PlumberLoadError
    from bridge.plumber import PlumberApis

    marker = tmp_path / "ran"
    api = tmp_path / "api.R"
    api.write_text(f'writeLines("x", "{marker}")\n'
                   "#* @get /x\nfunction() promises::promise_resolve(1)\n")
    with pytest.raises(PlumberLoadError, match="promises:: "):
        PlumberApis([api], session)
    assert not marker.exists()


def test_a_promise_the_scan_missed_fails_plainly(session, registry_examples, tmp_path):
    from falcon import testing

    from bridge.app import create_app
    from bridge.plumber import PlumberApis

    api = tmp_path / "hidden_async.R"
    api.write_text("#* @get /later\n"
                   'function() get("promise_resolve", asNamespace("promises"))(1)\n')
    app = create_app(registry_examples, plumber_apis=PlumberApis([api], session))
    client = testing.TestClient(app)
    r = client.simulate_get("/later")
    assert r.status_code == 500, r.text
    assert "GET /later returned a promise" in r.json["description"], r.text


def test_a_file_plumber_cannot_parse_reports_plumbers_error(session):
    from bridge.errors import PlumberLoadError
    from bridge.plumber import PlumberApis

    with pytest.raises(PlumberLoadError, match="broken.R failed to load in Plumber: "
                                               "R cannot parse broken.R: .*unexpected"):
        PlumberApis([REFUSED / "broken.R"], session)


def test_a_route_the_bridge_serves_is_refused(session, registry_examples):
    from bridge.app import create_app
    from bridge.errors import PlumberLoadError
    from bridge.plumber import PlumberApis

    apis = PlumberApis([REFUSED / "models_clash.R"], session)
    with pytest.raises(PlumberLoadError) as caught:
        create_app(registry_examples, plumber_apis=apis)
    message = caught.value.description
    assert "GET /models/<name> is under /models, which the bridge serves itself" in message
    assert "GET /models/<name>/explain is under /models" in message
    assert "a route matches /metrics, which the bridge serves itself" in message


def test_two_files_serving_one_route_are_refused(session):
    from bridge.errors import PlumberLoadError
    from bridge.plumber import PlumberApis

    with pytest.raises(PlumberLoadError,
                       match=r"items_clash.R: GET /items/<n:int> is already served by items_api.R"):
        PlumberApis([APIS / "items_api.R", REFUSED / "items_clash.R"], session)


def test_files_are_found_by_their_annotations(tmp_path):
    from bridge.errors import PlumberLoadError
    from bridge.plumber import find_plumber_files

    shutil.copy(APIS / "filter_api.R", tmp_path / "b_api.R")
    shutil.copy(APIS / "model_api.R", tmp_path / "a_api.R")
    (tmp_path / "helpers.R").write_text("# sourced by the APIs\n#' @param x a number\n"
                                        "f <- function(x) x\n")
    (tmp_path / "indented.R").write_text("  #* @get /x\nfunction() 1\n")  # plumber ignores it too
    extra = tmp_path / "extra" / "c_api.R"
    extra.parent.mkdir()
    shutil.copy(APIS / "handlers_api.R", extra)

    found = find_plumber_files(tmp_path, [extra])
    assert [p.name for p in found] == ["a_api.R", "b_api.R", "c_api.R"]
    with pytest.raises(PlumberLoadError, match="no Plumber annotations"):
        find_plumber_files(None, [tmp_path / "helpers.R"])
    assert find_plumber_files(tmp_path / "absent") == []


def test_settings_take_plumber_files_from_flags_and_environment():
    from pathlib import Path

    from bridge.settings import Settings

    settings = Settings.from_env({"BRIDGE_PLUMBER": "a.R:b/c.R", "BRIDGE_PLUMBER_DIR": "apis"})
    assert settings.plumber == (Path("a.R"), Path("b/c.R"))
    assert settings.plumber_dir == Path("apis")
    assert Settings.from_env({}, plumber=["x.R"]).plumber == (Path("x.R"),)
    assert Settings.from_env({}).plumber_dir == ROOT / "r_scripts" / "api"


@pytest.fixture(scope="module")
def registry_examples(pool):
    from bridge.registry import Registry

    registry = Registry(EXAMPLES, pool)
    registry.scan()
    return registry


# ---- one real server: models and Plumber files side by side ------------------------

def test_models_and_plumber_apis_side_by_side(start_server, model_dir):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    server = start_server(model_dir, "--plumber-dir", str(APIS),
                          "--plumber", str(ROOT / "r_scripts" / "api" / "cars.R"))
    url = server.url

    r = requests.get(url + "/models")
    assert r.status_code == 200, r.text
    assert [m["name"] for m in r.json()["models"]] == ["mtcars_lm"]
    row = {"wt": 2.62, "hp": 110, "cyl": "6"}
    r = requests.post(url + "/models/mtcars_lm/predict", json=[row])
    assert r.status_code == 200, r.text
    bridge_mpg = r.json()["predictions"][0]

    # The same model through the example API (r_scripts/api/cars.R) and a test API.
    r = requests.get(url + "/cars/mpg", params=row)
    assert r.status_code == 200, r.text
    assert r.json()["mpg"] == pytest.approx(bridge_mpg, rel=1e-5)
    r = requests.post(url + "/cars/mpg", json=[row, {"wt": 1.5, "hp": 66, "cyl": "4"}])
    assert r.status_code == 200, r.text
    assert r.json()[0]["mpg"] == pytest.approx(bridge_mpg, rel=1e-5)
    r = requests.get(url + "/cars/mpg", params={"wt": "heavy", "hp": 110})
    assert r.status_code == 400, r.text
    r = requests.get(url + "/predict", params=row)
    assert r.status_code == 200, r.text

    # waitress hands on the raw path, as httpuv does: path parameters stay encoded.
    r = requests.get(url + "/shops/a%20b/items/2/price/1.5")
    assert r.status_code == 200, r.text
    assert r.json()["shop"] == ["a%20b"]

    # Each file's filters guard its own routes only.
    assert requests.get(url + "/private").status_code == 401
    r = requests.get(url + "/private", headers={"X-Api-Key": "secret"})
    assert r.json() == {"user": ["alice"]}, r.text
    assert requests.get(url + "/health").status_code == 200

    # A path no file serves goes to the first file (filter_api.R): its filters, its 404.
    assert requests.get(url + "/nowhere").status_code == 401
    assert requests.get(url + "/nowhere", headers={"X-Api-Key": "secret"}).status_code == 404
    # The bridge's own errors stay the bridge's, also on paths it has no route for.
    r = requests.get(url + "/models/absent")
    assert r.status_code == 404 and r.json()["title"] == "Unknown model", r.text
    r = requests.get(url + "/models/mtcars_lm/explain")
    assert r.status_code == 404 and r.json()["title"], r.text


def test_the_server_refuses_to_start_with_a_refused_file(model_dir):
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve", "--models", str(model_dir), "--port", "0",
         "--plumber", str(REFUSED / "assets.R")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "assets.R:1: @assets (static files) is not served by the bridge" in done.stderr


def test_an_endpoint_past_the_timeout_is_stopped(start_server, model_dir, tmp_path):
    api = tmp_path / "slow.R"
    api.write_text("#* @get /slow\nfunction() { x <- 0; repeat x <- x + 1 }\n"
                   "#* @get /sleepy\nfunction() { Sys.sleep(60); 'late' }\n"
                   "#* @get /quick\nfunction() 'quick'\n")
    server = start_server(model_dir, "--plumber", str(api), "--plumber-dir", str(tmp_path / "none"),
                          "--predict-timeout", "1")
    for path in ("/slow", "/sleepy"):  # an R loop, and Sys.sleep that no interrupt reaches
        r = requests.get(server.url + path, timeout=30)
        assert r.status_code == 504, r.text
        assert "did not finish" in r.json()["description"], r.text
        # its R worker was replaced: once it is back, the next request is answered
        deadline = time.monotonic() + 60
        while requests.get(server.url + "/readyz", timeout=5).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        r = requests.get(server.url + "/quick", timeout=60)
        assert r.status_code == 200 and r.json() == ["quick"], r.text

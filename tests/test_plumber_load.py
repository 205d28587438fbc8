"""Loading plumber.R files: what is refused and why, route clashes, loading
styles (each API in its own scope, or bare), folders served as plumb(dir = ...)
serves them, routing between files, promises past the timeout, and the bridge
serving its models and Plumber files side by side in one server."""

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
    ("exit_hook.R", '"exit" hook would never run'),
    ("websocket.R", "websocket.R:3: websockets (onWSOpen)"),
])
def test_unsupported_features_are_refused_at_load(session, name, reason):
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    with pytest.raises(PlumberLoadError) as caught:
        PlumberApis([REFUSED / name], session)
    assert f"{name} cannot be served" in caught.value.description
    assert reason in caught.value.description, caught.value.description


@pytest.mark.parametrize("bare", [False, True])
def test_a_refused_file_is_refused_before_it_runs(session, tmp_path, bare):
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    marker = tmp_path / "ran"
    api = tmp_path / "api.R"
    api.write_text(f'writeLines("x", "{marker}")\n'
                   "#* @plumber\nfunction(pr) { pr$onWSOpen <- function(ws) NULL; pr }\n"
                   "#* @get /x\nfunction() 1\n")
    with pytest.raises(PlumberLoadError, match="websockets"):
        PlumberApis([api], session, bare=bare)
    assert not marker.exists()


def test_a_pending_promise_times_out_and_leaves_nothing_behind(session, registry_examples,
                                                               tmp_path):
    """A promise still pending at the timeout is a 504; the callbacks it left
    scheduled are dropped, never run inside the next request."""
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.r.plumber import PlumberApis

    api = tmp_path / "pending.R"
    api.write_text("fired <- 0\n"
                   "#* @get /never\n"
                   "function() {\n"
                   "  later::later(function() fired <<- fired + 1, 1)\n"
                   "  promises::promise(function(resolve, reject) NULL)\n"
                   "}\n"
                   "#* @get /fired\n"
                   "function() promises::promise(function(resolve, reject)\n"
                   "  later::later(function() resolve(list(fired = fired)), 1.5))\n")
    app = create_app(registry_examples, plumber_apis=PlumberApis([api], session))
    client = testing.TestClient(app)
    saved, session.default_timeout = session.default_timeout, 0.5
    try:
        r = client.simulate_get("/never")
    finally:
        session.default_timeout = saved
    assert r.status_code == 504, r.text
    assert "GET /never did not finish within 0.5 s" in r.json["description"], r.text
    r = client.simulate_get("/fired")
    assert r.status_code == 200, r.text
    assert r.json == {"fired": [0]}, r.text


def test_a_file_plumber_cannot_parse_reports_plumbers_error(session):
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    with pytest.raises(PlumberLoadError, match="broken.R failed to load in Plumber: "
                                               "R cannot parse broken.R: .*unexpected"):
        PlumberApis([REFUSED / "broken.R"], session)


def test_a_route_the_bridge_serves_is_refused(session, registry_examples):
    from bridge.http.app import create_app
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    apis = PlumberApis([REFUSED / "models_clash.R"], session)
    with pytest.raises(PlumberLoadError) as caught:
        create_app(registry_examples, plumber_apis=apis)
    message = caught.value.description
    assert "GET /models/<name> is under /models, which the bridge serves itself" in message
    assert "GET /models/<name>/explain is under /models" in message
    assert "a route matches /metrics, which the bridge serves itself" in message
    assert "static files at /models/files/ are under /models" in message


def test_two_files_serving_one_route_are_refused(session):
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    with pytest.raises(PlumberLoadError,
                       match=r"items_clash.R: GET /items/<n:int> is already served by items_api.R"):
        PlumberApis([APIS / "items_api.R", REFUSED / "items_clash.R"], session)


def test_files_are_found_by_their_annotations(tmp_path):
    from bridge.errors import PlumberLoadError
    from bridge.plumberfiles import find_plumber_files

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
    # The example API is served only when asked for (`make run` asks).
    assert Settings.from_env({}).plumber_dir is None
    assert Settings.from_env({}).plumber_bare is False
    assert Settings.from_env({"BRIDGE_PLUMBER_BARE": "1"}).plumber_bare is True
    assert Settings.from_env({}, plumber_bare=True).plumber_bare is True


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

    # A path under a file's prefixes gets that file's filters and its 404.
    assert requests.get(url + "/private/nowhere").status_code == 401
    r = requests.get(url + "/private/nowhere", headers={"X-Api-Key": "secret"})
    assert r.status_code == 404 and r.json() == {"error": "404 - Resource Not Found"}, r.text
    r = requests.get(url + "/items/1/nowhere")  # items_api.R's, after filter_api.R's
    assert r.status_code == 404 and r.json() == {"error": "404 - Resource Not Found"}, r.text
    # One under no file's prefixes gets the bridge's own 404.
    r = requests.get(url + "/nowhere", headers={"X-Api-Key": "secret"})
    assert r.status_code == 404 and r.json()["title"] == "404 Not Found", r.text
    # Static files and mounted routers, beside the rest.
    r = requests.get(url + "/files/style.css")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/css", r.headers
    assert requests.get(url + "/v1/inner/deep/3").json() == {"n": [3], "class": ["integer"]}
    # The bridge's own errors stay the bridge's, also on paths it has no route for.
    r = requests.get(url + "/models/absent")
    assert r.status_code == 404 and r.json()["title"] == "Unknown model", r.text
    r = requests.get(url + "/models/mtcars_lm/explain")
    assert r.status_code == 404 and r.json()["title"], r.text


def test_the_server_refuses_to_start_with_a_refused_file(model_dir):
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "serve", "--models", str(model_dir), "--port", "0",
         "--plumber", str(REFUSED / "websocket.R")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "websocket.R:3: websockets (onWSOpen) are not served by the bridge" in done.stderr


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


# ---- loading styles ---------------------------------------------------------------

def write_scoped_apis(folder):
    """Two files: a.R attaches MASS and sources a helper; b.R uses neither."""
    (folder / "helpers.R").write_text("shout <- function(x) toupper(x)\n")
    (folder / "a.R").write_text(
        'library(MASS)\nsource("helpers.R")\n'
        "#* @get /a/rows\nfunction() list(rows = nrow(Boston), shout = shout('a'))\n"
        "#* @get /a/fit\nfunction() list(class = class(rlm(mpg ~ wt, data = mtcars)))\n"
        "#* @get /a/pipe\nfunction() c(1, 4, 9) %>% sqrt()\n")
    (folder / "b.R").write_text(
        "#* @get /b/fit\nfunction() list(class = class(rlm(mpg ~ wt, data = mtcars)))\n"
        "#* @get /b/shout\nfunction() shout('b')\n"
        "#* @get /b/pipe\nfunction() c(1, 4, 9) %>% sqrt()\n")
    return [folder / "a.R", folder / "b.R"]


def test_each_api_sees_plumber_and_its_own_packages_only(session, registry_examples,
                                                          tmp_path):
    """Attached (the default), each file runs as under `library(plumber);
    pr(file) %>% pr_run()`, but what one file attaches or sources is not
    visible to the others, nor put on the search path the models share."""
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.r.plumber import PlumberApis

    search_before = session.run(lambda: list(session.ri.baseenv["search"]()))
    apis = PlumberApis(write_scoped_apis(tmp_path), session)
    client = testing.TestClient(create_app(registry_examples, plumber_apis=apis))

    r = client.simulate_get("/a/rows")
    assert r.status_code == 200, r.text
    assert r.json == {"rows": [506], "shout": ["A"]}  # MASS's lazy data, the helper
    assert client.simulate_get("/a/fit").json == {"class": ["rlm", "lm"]}
    assert client.simulate_get("/a/pipe").json == [1, 2, 3]
    assert client.simulate_get("/b/pipe").json == [1, 2, 3]  # plumber's %>%, b's own copy
    for path in ("/b/fit", "/b/shout"):  # a.R's package and helper: not b.R's
        r = client.simulate_get(path)
        assert r.status_code == 500, (path, r.text)
    assert session.run(lambda: list(session.ri.baseenv["search"]())) == search_before


def test_bare_loading_attaches_nothing(session, tmp_path):
    """--plumber-bare: as plumber::pr() alone; a file that needs library(plumber)
    fails at load, and the message says which style it wants."""
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    api = tmp_path / "piped.R"
    api.write_text("#* @plumber\nfunction(pr) pr %>% pr_set_debug(FALSE)\n"
                   "#* @get /x\nfunction() 1\n")
    PlumberApis([api], session)  # attached: fine
    with pytest.raises(PlumberLoadError) as caught:
        PlumberApis([api], session, bare=True)
    message = caught.value.description
    assert 'could not find function "%>%"' in message, message
    assert "expects library(plumber): serve it without --plumber-bare" in message, message


def test_a_bare_file_still_loads_when_plumber_is_qualified(session, registry_examples):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.r.plumber import PlumberApis

    apis = PlumberApis([APIS / "handlers_api.R"], session, bare=True)
    client = testing.TestClient(create_app(registry_examples, plumber_apis=apis))
    r = client.simulate_get("/square", query_string="x=3")
    assert r.status_code == 200 and r.json == {"square": [9]}, r.text


# ---- folders: plumb(dir = ...) ------------------------------------------------------

@pytest.mark.parametrize("layout, served", [
    ({"entrypoint.R": "pr()", "api.R": "#* @get /x\nfunction() 1\n"}, "folder"),
    ({"Plumber.R": "#* @get /x\nfunction() 1\n", "helpers.R": "f <- 1\n"}, "folder"),
    ({"helpers.R": "f <- 1\n"}, None),
])
def test_a_named_folder_is_one_api_as_plumb_dir_builds_it(tmp_path, layout, served):
    from bridge.errors import PlumberLoadError
    from bridge.plumberfiles import find_plumber_files

    for name, text in layout.items():
        (tmp_path / name).write_text(text)
    if served is None:
        with pytest.raises(PlumberLoadError, match="needs an entrypoint.R or a plumber.R"):
            find_plumber_files(None, [tmp_path])
        return
    assert find_plumber_files(None, [tmp_path]) == [tmp_path.resolve()]


def test_a_plumber_dir_with_an_entrypoint_is_one_api(tmp_path):
    from bridge.plumberfiles import find_plumber_files

    (tmp_path / "entrypoint.R").write_text('pr("api.R")\n')
    (tmp_path / "api.R").write_text("#* @get /x\nfunction() 1\n")
    assert find_plumber_files(tmp_path) == [tmp_path.resolve()]


def test_an_entrypoint_must_return_a_router(session, tmp_path):
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    (tmp_path / "entrypoint.R").write_text("x <- 1\nx\n")
    with pytest.raises(PlumberLoadError, match="entrypoint.R must return a runnable Plumber "
                                               "router .its last value is a numeric"):
        PlumberApis([tmp_path], session)


def test_an_entrypoint_builds_its_routers_in_its_own_scope(session, registry_examples,
                                                           tmp_path):
    """entrypoint.R's pr("api.R") and plumb("api.R") see plumber, as under
    library(plumber), and what the entrypoint sources."""
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.r.plumber import PlumberApis

    (tmp_path / "helpers.R").write_text("greet <- function(who) paste('hello', who)\n")
    (tmp_path / "api.R").write_text("#* @get /hi\nfunction() greet('api') %>% toupper()\n")
    (tmp_path / "old.R").write_text("#* @get /old\nfunction() greet('old')\n")
    (tmp_path / "entrypoint.R").write_text(
        'source("helpers.R")\n'
        'pr("api.R") %>% pr_mount("/v0", plumb("old.R"))\n')
    apis = PlumberApis([tmp_path], session)
    client = testing.TestClient(create_app(registry_examples, plumber_apis=apis))
    assert client.simulate_get("/hi").json == ["HELLO API"]
    assert client.simulate_get("/v0/old").json == ["hello old"]


# ---- the example API ------------------------------------------------------------------

def test_the_example_api_is_served_only_when_asked(start_server, model_dir, tmp_path):
    """A copy of cars.R anywhere serves (the model found through CARS_MODEL),
    and r_scripts/api/ is not loaded unless named: no clash with the copy."""
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    copy = tmp_path / "mine" / "cars.R"
    copy.parent.mkdir()
    shutil.copy(ROOT / "r_scripts" / "api" / "cars.R", copy)
    server = start_server(model_dir, "--plumber", str(copy),
                          env={"CARS_MODEL": str(EXAMPLES / "mtcars_lm.rds")})
    r = requests.get(server.url + "/cars/mpg", params={"wt": 2.62, "hp": 110, "cyl": "6"})
    assert r.status_code == 200, r.text
    expected = requests.post(server.url + "/models/mtcars_lm/predict",
                             json=[{"wt": 2.62, "hp": 110, "cyl": "6"}]).json()
    assert r.json()["mpg"] == pytest.approx(expected["predictions"][0], rel=1e-5)

    plain = start_server(model_dir)
    r = requests.get(plain.url + "/cars/health")
    assert r.status_code == 404 and r.json()["title"] == "404 Not Found", r.text


@pytest.mark.parametrize("attach", [
    "library(MASS)",
    'library("MASS")',
    'pkg <- "MASS"; library(pkg, character.only = TRUE)',
    "require(MASS)",
    'if (!require("MASS", quietly = TRUE)) stop("no MASS")',
    "suppressPackageStartupMessages(library(MASS, quietly = TRUE))",
])
def test_every_way_of_attaching_attaches_to_the_file(session, tmp_path, attach):
    from bridge.r.plumber import PlumberApis

    api = tmp_path / "api.R"
    api.write_text(f"{attach}\nfit <- rlm(mpg ~ wt, data = mtcars)\n#* @get /x\nfunction() 1\n")
    search_before = session.run(lambda: list(session.ri.baseenv["search"]()))
    PlumberApis([api], session)
    assert session.run(lambda: list(session.ri.baseenv["search"]())) == search_before


def test_a_package_attaches_what_it_depends_on(session, registry_examples, tmp_path):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.r.plumber import PlumberApis

    api = tmp_path / "api.R"
    # lme4 Depends: Matrix, so library(lme4) puts Matrix() in reach too.
    api.write_text("library(lme4)\n#* @get /m\nfunction() dim(Matrix(0, 2, 3))\n")
    client = testing.TestClient(create_app(registry_examples,
                                           plumber_apis=PlumberApis([api], session)))
    r = client.simulate_get("/m")
    assert r.status_code == 200 and r.json == [2, 3], r.text


def test_a_missing_package_fails_as_library_fails(session, registry_examples, tmp_path):
    from falcon import testing

    from bridge.http.app import create_app
    from bridge.errors import PlumberLoadError
    from bridge.r.plumber import PlumberApis

    api = tmp_path / "api.R"
    api.write_text("library(notapackage)\n#* @get /x\nfunction() 1\n")
    with pytest.raises(PlumberLoadError, match="there is no package called .notapackage"):
        PlumberApis([api], session)
    # require() says FALSE and goes on
    api.write_text("ok <- require(notapackage)\n#* @get /x\nfunction() ok\n")
    client = testing.TestClient(create_app(registry_examples,
                                           plumber_apis=PlumberApis([api], session)))
    assert client.simulate_get("/x").json == [False]


def test_stateful_files_see_all_their_state_with_plumber_workers_1(start_server, model_dir, tmp_path):
    """Several R workers each hold a copy of a file's global state; pinned to
    one worker, a counter kept in R counts every request."""
    api = tmp_path / "counter.R"
    api.write_text("hits <- 0\n"
                   "#* @post /hit\nfunction() { hits <<- hits + 1; list(hits = hits, pid = Sys.getpid()) }\n"
                   "#* @get /slowhit\nfunction() { Sys.sleep(0.2); hits <<- hits + 1; list(pid = Sys.getpid()) }\n")
    base = ["--plumber", str(api), "--plumber-dir", str(tmp_path / "none"), "--workers", "2",
            "--reload-interval", "0"]
    from concurrent.futures import ThreadPoolExecutor

    def spread(server):
        # concurrent slow calls keep both workers busy, so unpinned requests land on both
        with ThreadPoolExecutor(4) as pool:
            return {r.json()["pid"][0] for r in pool.map(
                lambda _: requests.get(server.url + "/slowhit", timeout=30), range(8))}

    unpinned = start_server(model_dir, *base)
    assert len(spread(unpinned)) == 2  # the check can fail: state is split when not pinned
    pinned = start_server(model_dir, *base, "--plumber-workers", "1")
    assert len(spread(pinned)) == 1
    counts = [requests.post(pinned.url + "/hit", timeout=30).json()["hits"][0] for _ in range(5)]
    assert counts == list(range(9, 14))  # 8 slow hits, then these five, all one copy

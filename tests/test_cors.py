"""--cors-origins: preflights answered before the API key check, CORS headers
on every answer to an allowed origin, nothing for the others; and a page on
another origin, in headless Chromium, calls the bridge with an API key."""

import http.server
import json
import threading

import pytest
import requests

from conftest import EXAMPLES, ROOT, copy_model, rscript
from test_docs_browser import browser, page  # noqa: F401  (fixtures)

KEY = "cors-key"


@pytest.fixture(scope="module")
def app_origin(tmp_path_factory):
    """A static web app on its own origin (another port is another origin)."""
    folder = tmp_path_factory.mktemp("webapp")
    (folder / "index.html").write_text("<!doctype html><title>app</title><p>app</p>")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cors-models")
    copy_model(EXAMPLES / "mtcars_lm.rds", folder)
    return folder


@pytest.fixture(scope="module")
def cors_server(models, app_origin):
    from conftest import Server

    server = Server(models, "--reload-interval", "0", "--cors-origins",
                    f"https://other.example, {app_origin}", env={"BRIDGE_API_KEYS": KEY})
    yield server
    server.stop()


def preflight(url, origin, method="POST", headers="content-type, authorization"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=h, timeout=10)


@pytest.mark.parametrize("path", ["/models/mtcars_lm/predict", "/models", "/openapi.json",
                                  "/v2/models/mtcars_lm/infer", "/no/such/route"])
def test_a_preflight_from_an_allowed_origin_is_answered_without_a_key(cors_server, app_origin, path):
    r = preflight(cors_server.url + path, app_origin)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == app_origin
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert {h.strip() for h in r.headers["Access-Control-Allow-Headers"].split(",")} == \
        {"content-type", "authorization"}
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in r.headers["Vary"]


@pytest.mark.parametrize("origin,method,headers", [
    ("https://evil.example", "POST", "content-type"),          # not listed
    ("http://127.0.0.1", "POST", "content-type"),              # another port: another origin
    ("https://other.example.evil", "POST", "content-type"),    # a listed origin as a prefix
    ("https://other.example", "DELETE", "content-type"),       # a method the bridge does not take
    ("https://other.example", "POST", "content-type, x-custom"),  # a header it does not take
])
def test_other_preflights_are_refused_without_cors_headers(cors_server, origin, method, headers):
    r = preflight(cors_server.url + "/models/mtcars_lm/predict", origin, method, headers)
    assert r.status_code == 403, r.text
    assert "Access-Control-Allow-Origin" not in r.headers
    assert r.json()["title"] == "CORS preflight refused"


@pytest.mark.parametrize("status,headers,body", [
    (200, {"Authorization": f"Bearer {KEY}"}, [{"wt": 2.62, "hp": 110, "cyl": "6"}]),
    (401, {}, [{"wt": 2.62, "hp": 110, "cyl": "6"}]),                        # no key
    (422, {"X-API-Key": KEY}, [{"wt": 2.62, "hp": 110, "cyl": "5"}]),        # R says no
])
def test_every_answer_to_an_allowed_origin_carries_cors_headers(cors_server, status, headers, body):
    r = requests.post(cors_server.url + "/models/mtcars_lm/predict", json=body, timeout=30,
                      headers={"Origin": "https://other.example", **headers})
    assert r.status_code == status, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://other.example"
    assert "X-Request-ID" in r.headers["Access-Control-Expose-Headers"]
    other = requests.post(cors_server.url + "/models/mtcars_lm/predict", json=body, timeout=30,
                          headers={"Origin": "https://evil.example", **headers})
    assert other.status_code == status
    assert "Access-Control-Allow-Origin" not in other.headers


def test_off_by_default(examples_server):
    r = preflight(examples_server.url + "/models/mtcars_lm/predict", "https://other.example")
    assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.get(examples_server.url + "/models", headers={"Origin": "https://other.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_a_star_allows_any_origin(start_server, models):
    server = start_server(models, "--reload-interval", "0", "--cors-origins", "*")
    r = preflight(server.url + "/models/mtcars_lm/predict", "https://anywhere.example")
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == "*"


FETCH = """
(async () => {
  try {
    const r = await fetch(%s + "/models/mtcars_lm/predict", {
      method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer %s"},
      body: JSON.stringify([{wt: 2.62, hp: 110, cyl: "6"}]),
    });
    window.result = {status: r.status, body: await r.json(), id: r.headers.get("X-Request-ID")};
  } catch (e) {
    window.result = {error: String(e)};
  }
})();
"""


def fetch_from(page, origin, bridge_url):
    page.call("Page.navigate", url=origin + "/index.html")
    page.wait_for("document.readyState === 'complete' && location.href.includes('index.html')")
    page.js("window.result = null")
    page.js(FETCH % (json.dumps(bridge_url), KEY))
    return page.wait_for("window.result")


def test_a_page_on_another_origin_calls_the_bridge(cors_server, app_origin, page):  # noqa: F811
    got = fetch_from(page, app_origin, cors_server.url)
    assert got.get("status") == 200, got
    expected = float(rscript('m <- readRDS("r_models/mtcars_lm.rds"); cat(sprintf("%.17g", predict(m, '
                             'data.frame(wt = 2.62, hp = 110, cyl = factor("6", levels = c("4", "6", "8"))))))',
                             cwd=ROOT))
    assert got["body"]["predictions"] == [pytest.approx(expected, rel=1e-15)]
    assert got["id"], "X-Request-ID is exposed to the page"


def test_without_cors_the_browser_blocks_the_page(examples_server, app_origin, page):  # noqa: F811
    got = fetch_from(page, app_origin, examples_server.url)
    assert "error" in got and "Failed to fetch" in got["error"], got

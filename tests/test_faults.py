"""The fault suite: a real server, started as a user starts it, fed what a
careless or hostile caller sends. After every fault a good request must
still get R's own answer (the `still_serving` fixture checks it)."""

import http.client
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest
import requests

from conftest import EXAMPLES, ROOT, Server, rscript

KEY = "test-key-" + uuid.uuid4().hex
MAX_BODY = 2_000_000
MAX_ROWS = 1_000
# R code a caller might hope we evaluate; the file name is unique to this run.
PWNED = f"pwned_{uuid.uuid4().hex[:12]}"
R_CODE = [
    f"system('touch {PWNED}')",
    f"system(\"touch /tmp/{PWNED}\")",
    f"`r system('touch {PWNED}')`",
    f"x); system('touch {PWNED}'); (",
    f"eval(parse(text=\"system('touch {PWNED}')\"))",
    f"${{system('touch {PWNED}')}}",
]
GOOD_ROW = {"wt": 2.62, "hp": 110, "cyl": "6"}

ECHO_MODEL = r"""
source(file.path("{root}", "r_scripts", "ptype.R"))
d <- data.frame(txt = c("a", "bb", "ccc", "dddd"), "größe" = c(1, 2, 3, 5),
                y = c(1, 2, 3.5, 4), check.names = FALSE, stringsAsFactors = FALSE)
fit <- lm(y ~ nchar(txt) + `größe`, data = d)
saveRDS(attach_ptype(fit, d), "echo.rds")
x <- data.frame(a = 1:3)
save(x, file = "nomodel.rda")
m <- readRDS("mtcars_lm.rds")
cat(sprintf("%.17g", predict(m, newdata = data.frame(wt = 2.62, hp = 110,
    cyl = factor("6", levels = c("4", "6", "8"))))))
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault_models")
    shutil.copy(EXAMPLES / "mtcars_lm.rds", folder)
    shutil.copy(EXAMPLES / "mtcars_lm.rds", folder / "boom.rds")
    (folder / "boom.R").write_text(
        'predict_fn <- function(model, newdata, ...) stop("the model exploded")\n')
    (folder / "echo.R").write_text(
        "predict_fn <- function(model, newdata, ...) newdata$txt\n", encoding="utf-8")
    (folder / "corrupt.rda").write_bytes(b"RDX3\n" + os.urandom(2048))
    expected = float(rscript(ECHO_MODEL.replace("{root}", str(ROOT)), cwd=folder))
    # A model outside the folder that a path in a URL might try to reach.
    shutil.copy(EXAMPLES / "mtcars_lm.rds", folder.parent / "outside.rds")
    return folder, expected


@pytest.fixture(scope="module")
def server(models):
    folder, _ = models
    srv = Server(folder, env={"BRIDGE_API_KEYS": f"other-key, {KEY}",
                              "BRIDGE_MAX_BODY_BYTES": str(MAX_BODY),
                              "BRIDGE_MAX_ROWS": str(MAX_ROWS),
                              "BRIDGE_RELOAD_INTERVAL": "0"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server):
    s = requests.Session()
    s.headers["X-API-Key"] = KEY
    return s


@pytest.fixture(autouse=True)
def still_serving(api, server, models):
    yield
    r = api.post(f"{server.url}/models/mtcars_lm/predict", json=[GOOD_ROW])
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == [models[1]]
    assert server.proc.poll() is None


def predict(api, server, body, content_type="application/json", model="mtcars_lm", **kw):
    return api.post(f"{server.url}/models/{model}/predict", data=body,
                    headers={"Content-Type": content_type}, **kw)


def assert_error(r, status):
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["title"], doc
    return doc


# ---- malformed bodies ---------------------------------------------------------------

DEEP = 100_000


@pytest.mark.parametrize("body, content_type, status", [
    (b'[{"wt": 2.5,', "application/json", 400),
    (b"", "application/json", 400),
    (b"   ", "application/json", 400),
    (b'\xff\xfe[{"wt": 1}]', "application/json", 400),
    (b'[{"wt": 1, "hp": 1, "cyl": "\xc3\x28"}]', "application/json", 400),
    (b"wt,hp,cyl\n\xff,1,4\n", "text/csv", 400),
    (b'[{"wt": 1}]', "text/plain", 415),
    (b"<rows><wt>1</wt></rows>", "application/xml", 415),
    (b'[{"wt": NaN, "hp": 110, "cyl": "6"}]', "application/json", 400),
    (b'[{"wt": Infinity, "hp": 110, "cyl": "6"}]', "application/json", 400),
    (b'[{"wt": -Infinity, "hp": 110, "cyl": "6"}]', "application/json", 400),
    (b"[" * DEEP + b"]" * DEEP, "application/json", 400),
    (b'{"data":' * DEEP, "application/json", 400),
    (b'{"data": [' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"]}", "application/json", 400),
    (b'"just a string"', "application/json", 400),
    (b"null", "application/json", 400),
    (b'[1, 2, 3]', "application/json", 400),
    (b'{"rows": []}', "application/json", 400),
], ids=["truncated", "empty", "blank", "bom-garbage", "bad-utf8-in-string", "bad-utf8-csv",
        "text-plain", "xml", "nan", "infinity", "minus-infinity", "deep-arrays", "deep-objects",
        "deep-in-rows", "string", "null", "numbers", "unknown-key"])
def test_malformed_body_is_refused(api, server, body, content_type, status):
    assert_error(predict(api, server, body, content_type), status)


# Nested as deep as the JSON parser allows, inside values and args: our own
# code must not recurse on them (a RecursionError would be a 500).
NEST = 1000
NESTED = "[" * NEST + "]" * NEST


@pytest.mark.parametrize("body", [
    f'[{{"wt": {NESTED}, "hp": 110, "cyl": "6"}}]',
    f'[{{"wt": 2.5, "hp": 110, "cyl": {NESTED}}}]',
    f'{{"data": {{"wt": [{NESTED}], "hp": [110], "cyl": ["6"]}}}}',
    f'{{"data": [{json.dumps(GOOD_ROW)}], "args": {{"level": {NESTED}}}}}',
    f'{{"data": [{json.dumps(GOOD_ROW)}], "args": {{"level": {{"a": {NESTED}}}}}}}',
], ids=["number-column", "factor-column", "columns-form", "arg-list", "arg-object"])
def test_deep_values_are_input_errors(api, server, body):
    assert_error(predict(api, server, body.encode()), 422)


def test_duplicate_keys_and_columns_never_fail_the_server(api, server):
    dup_row = b'[{"wt": 99, "wt": 2.62, "hp": 110, "cyl": "6"}]'
    r = predict(api, server, dup_row)
    assert r.status_code in (200, 400, 422), r.text
    split = {"dataframe_split": {"columns": ["wt", "wt", "hp", "cyl"],
                                 "data": [[99, 2.62, 110, "6"]]}}
    r = api.post(f"{server.url}/models/mtcars_lm/predict", json=split)
    assert r.status_code in (200, 400, 422), r.text
    r = predict(api, server, b"wt,wt,hp,cyl\n99,2.62,110,6\n", "text/csv")
    assert r.status_code in (200, 400, 422), r.text


# ---- sizes ----------------------------------------------------------------------------

def test_oversized_body_is_413(api, server):
    body = b"[" + b" " * MAX_BODY + b"]"
    assert predict(api, server, body).status_code == 413


def test_oversized_chunked_body_is_413(api, server):
    def chunks():
        for _ in range(MAX_BODY // 100_000 + 2):
            yield b" " * 100_000

    assert predict(api, server, chunks()).status_code == 413


def test_small_chunked_body_is_served(api, server, models):
    def chunks():
        yield b"["
        yield json.dumps(GOOD_ROW).encode()
        yield b"]"

    r = predict(api, server, chunks())
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == [models[1]]


def test_too_many_rows_is_413(api, server):
    r = api.post(f"{server.url}/models/mtcars_lm/predict", json=[GOOD_ROW] * (MAX_ROWS + 1))
    doc = assert_error(r, 413)
    assert doc["max_rows"] == MAX_ROWS
    r = api.post(f"{server.url}/models/mtcars_lm/predict", json=[GOOD_ROW] * MAX_ROWS)
    assert r.status_code == 200, r.text


def test_oversized_header_is_refused(api, server):
    r = api.get(f"{server.url}/models", headers={"X-Padding": "x" * 70_000})
    assert r.status_code == 431


# ---- unicode, and R code where data belongs ----------------------------------------------

def test_unicode_column_names_and_values(api, server):
    texts = ["größe", "日本語テキスト", "emoji 🚀✓", "ʻokina", "\u202eright-to-left", "tab\tnew\nline"]
    rows = [{"txt": t, "größe": 1.5, "ünïcødé 🚀 extra": "ignored"} for t in texts]
    r = api.post(f"{server.url}/models/echo/predict", json=rows)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == texts
    # R strings cannot hold NUL: refused or not, never a server error
    r = api.post(f"{server.url}/models/echo/predict", json=[{"txt": "a\u0000b", "größe": 1}])
    assert r.status_code in (200, 422), r.text
    r = api.post(f"{server.url}/models/mtcars_lm/predict",
                 json=[{**GOOD_ROW, "cyl": "６"}])
    doc = assert_error(r, 422)
    assert "６" in doc["description"]


def test_r_code_is_only_ever_data(api, server, models):
    folder, _ = models
    url = f"{server.url}/models/echo/predict"
    # as values: returned unchanged, never run
    r = api.post(url, json=[{"txt": code, "größe": 1} for code in R_CODE])
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == R_CODE
    # as a CSV value
    csv = "txt,größe\n" + "".join(f'"{c.replace(chr(34), chr(34) * 2)}",1\n' for c in R_CODE)
    r = api.post(url, data=csv.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == R_CODE
    for code in R_CODE:
        # as column names (extra columns are ignored; a missing one is named in a 422)
        r = api.post(url, json=[{"txt": "a", "größe": 1, code: 1}])
        assert r.status_code == 200, r.text
        r = api.post(url, json=[{code: "a", "größe": 1}])
        assert_error(r, 422)
        # as argument names and values, to a custom predict_fn and to predict.lm
        for model in ("echo", "mtcars_lm"):
            row = {"txt": "a", "größe": 1} if model == "echo" else GOOD_ROW
            for args in ({code: 1}, {"type": code}, {"se.fit": code}, {"level": [code, code]}):
                r = api.post(f"{server.url}/models/{model}/predict",
                             json={"data": [row], "args": args})
                # a string where R wants a flag fails inside predict(): R's error, as data
                assert r.status_code in (200, 400, 422, 500), (args, r.text)
                if r.status_code == 500:
                    assert "r_message" in r.json(), r.text
        # as a model name
        r = api.post(f"{server.url}/models/{requests.utils.quote(code, safe='')}/predict",
                     json=[GOOD_ROW])
        assert_error(r, 404)
    for place in (ROOT, folder, folder.parent, Path("/tmp"), Path.home(), Path.cwd()):
        assert not (place / PWNED).exists(), place
    assert PWNED not in "".join(p.name for p in folder.iterdir())


# ---- model names are names, never paths ---------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/models/../outside/predict",
    "/models/..%2Foutside/predict",
    "/models/%2e%2e%2foutside/predict",
    "/models/%2E%2E/predict",
    "/models/%2e%2e%2f%2e%2e%2fr_models%2fmtcars_lm/predict",
    "/models/..%5Coutside/predict",
    "/models/%2Fetc%2Fpasswd/predict",
    "/models//etc/passwd/predict",
    f"/models/{'%2F'.join(str(EXAMPLES / 'mtcars_lm').split('/'))}/predict",
    f"/models/{EXAMPLES}/mtcars_lm/predict",
    "/models/mtcars_lm.rds/predict",
    "/models/~root/predict",
    "/models/outside",
    "/models/..%2Foutside",
])
def test_path_in_model_name_is_404(server, path):
    # http.client sends the path exactly as written (requests would normalise ../).
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    body = json.dumps([GOOD_ROW]).encode()
    conn.request("POST" if path.endswith("predict") else "GET", path, body=body,
                 headers={"Content-Type": "application/json", "X-API-Key": KEY})
    r = conn.getresponse()
    text = r.read().decode()
    conn.close()
    assert r.status == 404, text
    assert json.loads(text)["title"]


# ---- broken model files ---------------------------------------------------------------------

def test_broken_files_are_listed_not_served(api, server):
    listing = {m["name"]: m for m in api.get(f"{server.url}/models").json()["models"]}
    assert listing["corrupt"]["status"] == "error", listing
    assert listing["nomodel"]["status"] == "error", listing
    assert "predict" in listing["nomodel"]["error"], listing
    assert {"mtcars_lm", "echo", "boom"} <= set(listing)
    for name in ("corrupt", "nomodel"):
        assert_error(api.post(f"{server.url}/models/{name}/predict", json=[GOOD_ROW]), 404)


def test_model_whose_predict_fails_is_500_with_r_message(api, server):
    r = api.post(f"{server.url}/models/boom/predict", json=[GOOD_ROW])
    doc = assert_error(r, 500)
    assert "the model exploded" in doc["r_message"], doc
    metrics = requests.get(f"{server.url}/metrics").text
    assert 'bridge_r_errors_total{kind="model",model="boom"}' in metrics


# ---- API keys ------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {},
    {"X-API-Key": "wrong"},
    {"X-API-Key": KEY[:-1]},
    {"X-API-Key": KEY + "x"},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Basic {KEY}"},
    {"Authorization": f"Bearer{KEY}"},
    {"Authorization": "Bearer "},
    {"X-API-Key": ""},
])
def test_missing_or_wrong_key_is_401(server, headers):
    for method, path in (("POST", "/models/mtcars_lm/predict"), ("GET", "/models"),
                         ("GET", "/models/mtcars_lm"), ("GET", "/nowhere")):
        r = requests.request(method, server.url + path, json=[GOOD_ROW], headers=headers)
        assert_error(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert r.headers["X-Request-ID"]


def test_any_configured_key_in_either_header(server):
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"},
                    {"Authorization": f"bearer {KEY}"}, {"X-API-Key": "other-key"}):
        r = requests.post(f"{server.url}/models/mtcars_lm/predict", json=[GOOD_ROW], headers=headers)
        assert r.status_code == 200, (headers, r.text)


def test_probes_and_metrics_are_open(server):
    for path in ("/healthz", "/readyz", "/metrics"):
        r = requests.get(server.url + path)
        assert r.status_code == 200, (path, r.text)

"""Differential tests: each plumber.R file in tests/plumber_apis/ is served by
real Plumber (`library(plumber); pr_run(pr(file))` on httpuv, in an Rscript
process started in the file's folder) and by the bridge; the same requests go
to both, and status, content type, chosen headers and the parsed body must
agree. Where the bridge differs on purpose, the case names the difference
(listed in docs/plumber.md) and states both answers. Plumber's own examples
are compared the same way in test_plumber_examples.py."""

import csv
import dataclasses
import io
import math
import struct
import subprocess
import tempfile
import time

import pytest
import requests
from falcon import testing

from conftest import EXAMPLES, ROOT, free_port

APIS = ROOT / "tests" / "plumber_apis"
JSON = {"Content-Type": "application/json"}


@dataclasses.dataclass
class Case:
    method: str
    path: str
    query: str = ""
    body: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)
    compare_headers: tuple = ()
    # A deliberate difference: its name (as in docs/plumber.md), and what the
    # bridge answers instead: {"status": .., "content_type": .., "json": ..}.
    differs: str = ""
    bridge: dict = dataclasses.field(default_factory=dict)

    def __str__(self):
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''}"


def json_body(value):
    import json

    return json.dumps(value).encode()


def unclaimed(path):
    """A path under none of the file's route prefixes: Plumber's 404 (or its
    filters' answer), the bridge's own 404 (docs/plumber.md)."""
    return Case("GET", path, differs="unclaimed path: the bridge's 404",
                bridge={"status": 404, "content_type": "application/json"})


CASES = {
    "model_api.R": [
        Case("GET", "/health"),
        Case("GET", "/predict", "wt=2.62&hp=110&cyl=6"),
        Case("GET", "/predict", "wt=2.62&hp=110"),  # default argument
        Case("GET", "/predict", "wt=heavy&hp=110"),  # the endpoint's own stop()
        Case("GET", "/predict", "hp=110"),  # a required argument missing
        Case("POST", "/predict", body=json_body([{"wt": 2.62, "hp": 110, "cyl": "6"},
                                                 {"wt": 1.5, "hp": 66, "cyl": "4"}]),
             headers=JSON),
        Case("POST", "/predict", body=json_body({"rows": 1}), headers=JSON),  # res$status 400
        Case("POST", "/predict", body=b'[{"wt": 2.6, "hp": ', headers=JSON,
             differs="malformed body: 400 instead of 500",
             bridge={"status": 400, "content_type": "application/json"}),
        Case("POST", "/predict_one", body=json_body({"wt": 3.1, "hp": 150, "cyl": "8"}),
             headers=JSON),
        Case("POST", "/predict_one", body=b"wt=3.1&hp=150&cyl=8",
             headers={"Content-Type": "application/x-www-form-urlencoded"}),
        Case("POST", "/predict_one", body=json_body({"wt": 3.1, "hp": 150, "cyl": "8",
                                                     "ignored": True}), headers=JSON),
        Case("GET", "/interval", "wt=3&hp=120&level=0.9"),
        Case("GET", "/interval", "wt=3&hp=120&level=2"),  # res$status 422
        Case("GET", "/predict.csv", "wt=3.5&hp=200"),
        Case("GET", "/coef"),
        Case("GET", "/predict/nowhere"),  # under the file's /predict: Plumber's 404
        unclaimed("/nowhere"),
        Case("HEAD", "/health"),
        Case("DELETE", "/health", compare_headers=("Allow",)),
    ],
    "items_api.R": [
        Case("GET", "/items/7"),
        Case("PUT", "/items/7", body=json_body({"name": "pen", "price": 2.5}), headers=JSON,
             compare_headers=("Location",)),
        Case("PUT", "/items/7", body=json_body({"name": "pencil"}), headers=JSON),
        Case("PUT", "/items/9", query="name=cup&price=4"),  # query args on a PUT
        Case("GET", "/items/7"),
        Case("GET", "/items", "limit=5&sort=name"),
        Case("GET", "/items/seven"),  # does not match <id:int>
        Case("DELETE", "/items/7", differs="no Content-Type on 204",
             bridge={"status": 204, "content_type": None}),
        Case("GET", "/items", ""),
        Case("POST", "/items/7", compare_headers=("Allow",)),
        Case("GET", "/shops/corner/items/12/price/3.25"),
        Case("GET", "/shops/a%20b/items/-3/price/.5"),  # path parameters stay encoded
        Case("GET", "/flags/true"),
        Case("GET", "/flags/F"),
        Case("GET", "/echo/query", "a=1&a=2&b=%C3%A9t%C3%A9&c=&d=x+y"),
        Case("POST", "/echo/body", body=json_body({"x": [1, 2, 3], "y": {"z": "w"}}),
             headers=JSON),
        Case("POST", "/echo/body", body=b'{"x": 1}'),  # no content type: sniffed as JSON
        Case("POST", "/echo/body", body=b"plain words\nsecond line",
             headers={"Content-Type": "text/plain"}),
        Case("POST", "/echo/body", body=b"{not json", headers=JSON,
             differs="malformed body: 400 instead of 500",
             bridge={"status": 400, "content_type": "application/json"}),
        Case("POST", "/echo/form", body=b"a=1&b=two+words",
             headers={"Content-Type": "application/x-www-form-urlencoded"}),
        Case("POST", "/echo/form", "a=from-query", body=json_body({"b": "from-body"}),
             headers=JSON),
        Case("GET", "/echo/headers", headers={"X-Request-Id": "abc-123",
                                              "Cookie": "session=s1; other=2"},
             compare_headers=("X-Echo", "Set-Cookie")),
        Case("GET", "/page", "name=R%20Bridge"),
        Case("GET", "/plot", "n=12"),
        Case("GET", "/plot", "n=0"),  # plot() of nothing errors inside the device
        Case("GET", "/boom"),
        Case("GET", "/teapot"),
        Case("GET", "/raw", differs="application/octet-stream when Plumber sends no type",
             bridge={"status": 202, "content_type": "application/octet-stream"}),
        Case("GET", "/items/7/at/all"),
        unclaimed("/nowhere/at/all"),
    ],
    "filter_api.R": [
        Case("GET", "/public", compare_headers=("X-Served-By",)),
        Case("GET", "/private", compare_headers=("X-Served-By",)),
        Case("GET", "/private", headers={"X-Api-Key": "wrong"}),
        Case("GET", "/private", headers={"X-Api-Key": "secret"}),
        Case("POST", "/private/double", body=json_body({"x": 21}),
             headers={**JSON, "X-Api-Key": "secret"}),
        Case("POST", "/private/double", body=json_body({"x": 21}), headers=JSON),
        Case("GET", "/private/nowhere"),  # filters run before the 404
        Case("GET", "/private/nowhere", headers={"X-Api-Key": "secret"}),
        unclaimed("/nowhere"),
    ],
    "handlers_api.R": [
        Case("GET", "/square", "x=1.5", compare_headers=("X-Hooked",)),
        Case("GET", "/square", "x=abc"),  # the file's own error handler
        Case("GET", "/square/missing"),  # the file's own 404 handler
        unclaimed("/missing/page"),
    ],
    "static_api.R": [
        Case("GET", "/files/index.html", compare_headers=("Last-Modified",)),
        Case("GET", "/files/"),  # index.html
        Case("GET", "/files/style.css"),
        Case("GET", "/files/data.json"),
        Case("GET", "/files/app.js"),
        Case("GET", "/files/logo.svg"),
        Case("GET", "/files/dot.png"),
        Case("GET", "/files/LICENSE"),
        Case("GET", "/files/my%20notes.txt"),
        Case("GET", "/files/docs/guide.md"),
        # A sub-folder: Plumber reads it as a file and fails; httpuv then sends
        # two Content-Types and the folder's size as Content-Length.
        Case("GET", "/files/docs/", differs="one Content-Type, the body's",
             bridge={"status": 500, "content_type": "application/json"}),
        Case("GET", "/files/docs", differs="one Content-Type, the body's",
             bridge={"status": 500, "content_type": "application/json"}),
        Case("HEAD", "/files/style.css"),
        Case("GET", "/files/absent.txt"),
        Case("GET", "/files/%2e%2e/static_api.R"),  # out of the folder
        Case("GET", "/files/..%2F..%2Fmodel_api.R"),
        Case("GET", "/files/docs/%2e%2e/data.json"),  # in the folder after all
        Case("GET", "/files/count"),  # an endpoint under the mount
        Case("POST", "/files/style.css", differs="application/octet-stream when Plumber "
             "sends no type", bridge={"status": 400, "content_type": "application/octet-stream"}),
        Case("GET", "/handbook/guide.txt"),
        Case("GET", "/handbook/"),
        Case("GET", "/handbook/missing.md"),
        Case("GET", "/files"),
        unclaimed("/nowhere"),
    ],
    "mounted_api.R": [
        Case("GET", "/top"),
        Case("GET", "/v1/ping"),
        Case("POST", "/v1/echo", body=json_body({"x": [1, 2]}), headers=JSON),
        Case("POST", "/v1/echo", body=b"x=a", headers={"Content-Type":
                                                       "application/x-www-form-urlencoded"}),
        Case("POST", "/v1/echo", body=b'{"x": ', headers=JSON,
             differs="malformed body: 400 instead of 500",
             bridge={"status": 400, "content_type": "application/json"}),
        Case("GET", "/v1/inner/deep/12"),
        Case("GET", "/v1/inner/deep/twelve"),  # the inner router's own 404
        Case("GET", "/v1/inner/else"),
        Case("GET", "/v1/else"),
        # Plumber finds no 405 inside a mount: 404, in both.
        Case("POST", "/v1/ping"),
        Case("DELETE", "/v1/inner/deep/1"),
        Case("GET", "/v1"),
        unclaimed("/v2/ping"),
    ],
    "async_api.R": [
        Case("GET", "/async/value", "x=21"),
        Case("GET", "/async/value", "x=abc"),
        Case("GET", "/async/later", "ms=20"),
        Case("GET", "/async/fail"),
        Case("GET", "/async/status"),
        Case("GET", "/async/text"),
        Case("POST", "/async/body", body=json_body({"a": [1, 2], "b": "c"}), headers=JSON),
        Case("POST", "/async/body", body=b"{bad", headers=JSON,
             differs="malformed body: 400 instead of 500",
             bridge={"status": 400, "content_type": "application/json"}),
        Case("GET", "/async/caught"),
        Case("GET", "/async/chain", "n=25"),
        Case("PUT", "/async/value", compare_headers=("Allow",)),
        Case("GET", "/async/absent"),
    ],
    "bodies_api.R": [
        Case("GET", "/text/two"),
        Case("GET", "/text/none"),
        Case("GET", "/text/na"),
        Case("GET", "/text/numbers"),
        Case("GET", "/html/lines"),
        Case("GET", "/text/typed"),
    ],
}


# ---- the two servers ----------------------------------------------------------

class PlumberProcess:
    """pr_run() on the file, as a team runs it today: from its folder, after
    library(plumber)."""

    def __init__(self, path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        code = (f'library(plumber); pr_run(pr("{path.name}"), host = "127.0.0.1", '
                f'port = {self.port}, docs = FALSE)')
        # A file, not a pipe: a chatty API must never block on a full pipe.
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(["Rscript", "-e", code], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=path.parent)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"plumber exited: {self.log.read()}")
            try:
                requests.get(self.url + "/", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"plumber did not start within {timeout}s")
                time.sleep(0.2)

    def send(self, case):
        url = self.url + case.path + ("?" + case.query if case.query else "")
        r = requests.request(case.method, url, data=case.body or None, headers=case.headers,
                             timeout=30)
        return Answer(r.status_code, r.headers.get("Content-Type"), r.content, r.headers)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class BridgeClient:
    """The bridge's app (models and this one file), in process."""

    def __init__(self, path, registry, session):
        from bridge.http.app import create_app
        from bridge.r.plumber import PlumberApis

        app = create_app(registry, plumber_apis=PlumberApis([path], session))
        self.client = testing.TestClient(app)

    def send(self, case):
        r = self.client.simulate_request(case.method, case.path, query_string=case.query or None,
                                         body=case.body or None, headers=case.headers)
        return Answer(r.status_code, r.headers.get("Content-Type"), r.content, r.headers)


@dataclasses.dataclass
class Answer:
    status: int
    content_type: str
    content: bytes
    headers: object

    @property
    def text(self):
        return self.content.decode(errors="replace")


@pytest.fixture(scope="module")
def example_registry(pool):
    from bridge.registry import Registry

    registry = Registry(EXAMPLES, pool)
    registry.scan()
    return registry


def serve_both(api, registry, session):
    """Plumber and the bridge (with the example models), both serving one API file."""
    plumber = PlumberProcess(APIS / api)
    yield plumber, BridgeClient(APIS / api, registry, session)
    plumber.stop()


@pytest.fixture(scope="module")
def model_api(example_registry, session):
    yield from serve_both("model_api.R", example_registry, session)


@pytest.fixture(scope="module")
def items_api(example_registry, session):
    yield from serve_both("items_api.R", example_registry, session)


@pytest.fixture(scope="module")
def filter_api(example_registry, session):
    yield from serve_both("filter_api.R", example_registry, session)


@pytest.fixture(scope="module")
def handlers_api(example_registry, session):
    yield from serve_both("handlers_api.R", example_registry, session)


@pytest.fixture(scope="module")
def static_api(example_registry, session):
    yield from serve_both("static_api.R", example_registry, session)


@pytest.fixture(scope="module")
def mounted_api(example_registry, session):
    yield from serve_both("mounted_api.R", example_registry, session)


@pytest.fixture(scope="module")
def async_api(example_registry, session):
    yield from serve_both("async_api.R", example_registry, session)


@pytest.fixture(scope="module")
def bodies_api(example_registry, session):
    yield from serve_both("bodies_api.R", example_registry, session)


# ---- comparing answers ----------------------------------------------------------

def parsed(answer):
    """The body as the content type says: JSON value, CSV rows, PNG size, or text."""
    kind = (answer.content_type or "").split(";")[0].strip()
    if not answer.content:  # HEAD, 204
        return ""
    if kind == "application/json":
        import json

        return json.loads(answer.content)
    if kind == "text/csv":
        return list(csv.reader(io.StringIO(answer.content.decode())))
    if kind == "image/png":
        assert answer.content[:8] == b"\x89PNG\r\n\x1a\n", answer.content[:16]
        return {"png": struct.unpack(">II", answer.content[16:24])}
    return answer.content.decode()


def same(a, b, where="body"):
    """Asserts two parsed bodies agree, numbers (and numeric strings) within 1e-9."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif _number(a) is not None and _number(b) is not None:
        assert math.isclose(_number(a), _number(b), rel_tol=1e-9, abs_tol=1e-12), \
            f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def content_type(value):
    return value.replace(" ", "").lower() if value else None


# Cases run in order: items_api.R keeps state (PUT, then GET, then DELETE)
# and both servers see the same sequence.

@pytest.mark.parametrize("case", CASES["model_api.R"], ids=str)
def test_model_api(model_api, case):
    check_same_answer(*model_api, case)


@pytest.mark.parametrize("case", CASES["items_api.R"], ids=str)
def test_items_api(items_api, case):
    check_same_answer(*items_api, case)


@pytest.mark.parametrize("case", CASES["filter_api.R"], ids=str)
def test_filter_api(filter_api, case):
    check_same_answer(*filter_api, case)


@pytest.mark.parametrize("case", CASES["handlers_api.R"], ids=str)
def test_handlers_api(handlers_api, case):
    check_same_answer(*handlers_api, case)


@pytest.mark.parametrize("case", CASES["static_api.R"], ids=str)
def test_static_api(static_api, case):
    check_same_answer(*static_api, case)


@pytest.mark.parametrize("case", CASES["mounted_api.R"], ids=str)
def test_mounted_api(mounted_api, case):
    check_same_answer(*mounted_api, case)


@pytest.mark.parametrize("case", CASES["async_api.R"], ids=str)
def test_async_api(async_api, case):
    check_same_answer(*async_api, case)


@pytest.mark.parametrize("case", CASES["bodies_api.R"], ids=str)
def test_bodies_api(bodies_api, case):
    check_same_answer(*bodies_api, case)


def check_same_answer(plumber, bridge, case):
    expected = plumber.send(case)
    got = bridge.send(case)
    if case.differs:
        # A deliberate difference: Plumber answers as documented, the bridge
        # as the case says.
        assert got.status == case.bridge["status"], (case.differs, got.status, got.text)
        assert content_type(got.content_type) == content_type(case.bridge["content_type"]), \
            got.headers
        if case.differs.startswith("malformed body"):
            assert expected.status == 500, (case.differs, expected.status, expected.text)
            assert "could not be parsed" in parsed(got)["description"], got.text
        elif case.differs.startswith("unclaimed path"):
            # Plumber: its 404, or what its filters answer first.
            assert expected.status in (401, 404), (expected.status, expected.text)
            assert parsed(got)["title"] == "404 Not Found", got.text
        else:
            assert expected.status == got.status, expected.text
            assert got.content == expected.content
        return
    assert got.status == expected.status, (got.text, expected.text)
    assert content_type(got.content_type) == content_type(expected.content_type), \
        (got.headers, expected.headers)
    same(parsed(got), parsed(expected))
    for name in case.compare_headers:
        assert expected.headers.get(name) is not None, (name, expected.headers)
        assert got.headers.get(name) == expected.headers.get(name), name

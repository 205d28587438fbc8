"""Differential tests over Plumber's own examples, as the Debian package ships
them (system.file("plumber", package = "plumber")): each example is run by
real Plumber (pr_run on httpuv, in its folder) and by a real bridge server
(`python -m bridge serve --plumber <example>`), in both loading styles:

- attached: `library(plumber); pr("plumber.R") %>% pr_run()` (or
  `plumb(dir = ".")` for an entrypoint.R folder) against the bridge's default;
- bare: `plumber::pr_run(plumber::pr("plumber.R"))` against `--plumber-bare`.

Every route gets good and bad requests; status, content type, the headers
that matter and the body must agree. Where the bridge differs on purpose the
case names the difference (docs/plumber.md) and states what the bridge sends.
Values that change from call to call (clock times, rnorm(), a PDF's creation
date, an encrypted session cookie) are masked or carried per server, never
hard-coded."""

import concurrent.futures
import dataclasses
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import Server, free_port
from test_plumber_diff import content_type, parsed, same

EXAMPLES = Path(subprocess.run(
    ["Rscript", "-e", 'cat(system.file("plumber", package = "plumber"))'],
    capture_output=True, text=True, timeout=60, check=True).stdout)

# Examples that cannot run here under pr_run() either, and why.
NOT_HERE = {
    "14-future": "needs coro, which Debian does not package",
}

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}

# What changes between two runs of the same code.
CLOCK = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?")
DATE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}")
NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")
PDF_DATES = re.compile(rb"/(CreationDate|ModDate) \(D:[^)]*\)")


def mask_clock(body):
    return DATE.sub("<date>", CLOCK.sub("<time>", body.decode())).encode()


def mask_numbers(body):
    return NUMBER.sub("0", body.decode()).encode()


def mask_pdf_dates(body):
    return PDF_DATES.sub(b"", body)


@dataclasses.dataclass
class Case:
    method: str
    path: str
    query: str = ""
    body: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)
    compare_headers: tuple = ()
    mask: object = None            # applied to both bodies before comparing
    send_cookies: bool = False     # send back the cookies this server set before
    # A deliberate difference (docs/plumber.md): its name, and the bridge's
    # answer {"status": .., "content_type": ..}.
    differs: str = ""
    bridge: dict = dataclasses.field(default_factory=dict)

    def __str__(self):
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''}"


def unclaimed(path="/nowhere"):
    """A path under none of the file's routes: Plumber's 404 (or what its
    filters answer first), the bridge's own 404."""
    return Case("GET", path, differs="unclaimed path: the bridge's 404",
                bridge={"status": 404, "content_type": "application/json"})


def malformed(path, **kw):
    return Case("POST", path, body=b'{"val": ', headers=JSON,
                differs="malformed body: 400 instead of 500",
                bridge={"status": 400, "content_type": "application/json"}, **kw)


CASES = {
    "01-append": [
        Case("GET", "/tail"),
        Case("POST", "/append", body=b"val=20", headers=FORM),
        Case("POST", "/append", body=b'{"val": 30}', headers=JSON),
        Case("POST", "/append", query="val=40"),
        Case("POST", "/append", body=b"val=abc", headers=FORM),  # res$status 400
        Case("POST", "/append"),  # val missing
        malformed("/append"),
        Case("GET", "/tail", "n=3"),
        Case("GET", "/tail", "n=abc"),
        Case("GET", "/tail", "n=500"),
        Case("GET", "/graph"),
        Case("GET", "/append", compare_headers=("Allow",)),  # 405
        Case("DELETE", "/tail", compare_headers=("Allow",)),
        Case("GET", "/tail/more"),  # under the file's /tail: Plumber's 404
        unclaimed(),
    ],
    "02-filters": [
        Case("GET", "/about"),
        Case("GET", "/me"),  # require-auth: 401
        Case("GET", "/me", "username=kim"),
        Case("GET", "/me", "username=joe"),
        Case("GET", "/me", "username=mallory"),  # the filter's stop(): 500
        Case("GET", "/about", "username=mallory"),  # preempts require-auth only
        Case("POST", "/me", "username=kim", compare_headers=("Allow",)),
        Case("GET", "/me/settings", "username=kim"),  # filters, then Plumber's 404
        Case("GET", "/me/settings"),  # filters answer first: 401
        unclaimed(),
    ],
    "03-github": [
        Case("GET", "/version"),
        Case("POST", "/update", body=b'{"ref": "main"}', headers=JSON),  # no key file: 500
        Case("GET", "/update", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "04-mean-sum": [
        Case("GET", "/mean", mask=mask_numbers),
        Case("GET", "/mean", "samples=3", mask=mask_numbers),
        Case("GET", "/mean", "samples=-1"),  # rnorm() refuses: 500
        Case("POST", "/sum", body=b"a=1&b=2.5", headers=FORM),
        Case("POST", "/sum", body=b'{"a": 1, "b": [2, 3]}', headers=JSON),
        Case("POST", "/sum", "a=4&b=5"),
        Case("POST", "/sum", body=b"a=1", headers=FORM),  # b missing: 500
        Case("POST", "/sum", body=b"a=x&b=1", headers=FORM),  # NA with a warning
        malformed("/sum"),
        Case("GET", "/sum", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "05-static": [
        Case("GET", "/"),
        Case("GET", "/public/a.html", compare_headers=("Last-Modified",)),
        Case("GET", "/public/b.txt"),
        Case("GET", "/static/a.html"),
        Case("GET", "/static/b.txt", "v=2", compare_headers=("Last-Modified",)),
        Case("HEAD", "/static/b.txt"),
        Case("GET", "/static/"),  # index.html: none here
        Case("GET", "/static/missing.txt"),
        Case("GET", "/static/%2e%2e/plumber.R"),  # out of the folder: Plumber's 404
        Case("GET", "/static/..%2Fplumber.R"),
        Case("GET", "/static/a%2Ehtml"),  # decoded by Plumber, as under httpuv
        Case("POST", "/static/b.txt", differs="no Content-Type from Plumber: octet-stream",
             bridge={"status": 400, "content_type": "application/octet-stream"}),
        Case("GET", "/static"),
        Case("POST", "/", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "06-sessions": [
        Case("GET", "/counter", compare_headers=("Set-Cookie",)),
        Case("GET", "/counter", headers={"Cookie": "visitcounter=41"},
             compare_headers=("Set-Cookie",)),
        Case("GET", "/counter", headers={"Cookie": "visitcounter=many"}),
        Case("GET", "/sessionCounter"),
        Case("GET", "/sessionCounter", send_cookies=True),
        Case("GET", "/sessionCounter", send_cookies=True),
        Case("GET", "/sessionCounter", headers={"Cookie": "cookieName=forged"}),
        Case("GET", "/public/iframe.html"),
        Case("GET", "/public/js-cookie.js"),
        Case("GET", "/public/absent.js"),
        Case("PUT", "/counter", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "07-mailgun": [
        Case("GET", "/tail"),
        Case("POST", "/mail", body=b"from=ann%40example.org&subject=<b>hello</b>", headers=FORM),
        Case("POST", "/mail", body=b'{"from": "bo@example.org", "subject": "a & b"}',
             headers=JSON),
        Case("GET", "/tail", mask=mask_clock),
        Case("POST", "/mail", body=b"from=carl", headers=FORM),  # subject missing: 500
        malformed("/mail"),
        Case("GET", "/mail", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "08-identity": [
        Case("GET", "/name"),
        Case("GET", "/name", "who=me"),
        Case("POST", "/name", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "09-content-type": [
        Case("GET", "/pdf", mask=mask_pdf_dates),
        Case("GET", "/text"),
        Case("GET", "/html"),
        Case("GET", "/download-binary", compare_headers=("Content-Disposition",)),
        Case("POST", "/text", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "10-welcome": [
        Case("GET", "/"),
        Case("GET", "/", "x=1"),
        Case("DELETE", "/", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "11-car-inventory": [
        Case("GET", "/car/"),
        Case("GET", "/car/1"),
        Case("GET", "/car/999"),  # res$status 404, an empty frame
        Case("GET", "/car/abc"),  # does not match <id:int>
        Case("POST", "/car/", body=b"make=Saab&model=900&edition=S&year=1994&miles=1000"
                                   b"&price=2500", headers=FORM),
        Case("POST", "/car/", body=b'{"make": "Volvo", "model": "240", "edition": "GL", '
                                   b'"year": 1990, "miles": 20, "price": 900}', headers=JSON),
        Case("POST", "/car/", body=b"make=&model=x&year=2000", headers=FORM),  # 400
        Case("POST", "/car/", body=b"model=x&year=2000", headers=FORM),  # make missing
        malformed("/car/"),
        Case("PUT", "/car/1", body=b'{"make": "Ford", "model": "T", "edition": "", '
                                   b'"year": 1920, "miles": 1, "price": 5}', headers=JSON),
        Case("PUT", "/car/999", body=b"make=a&model=b&edition=c&year=1&miles=1&price=1",
             headers=FORM),  # stop(): 500
        Case("DELETE", "/car/2"),
        Case("DELETE", "/car/999"),  # 400
        Case("GET", "/car/"),
        Case("PATCH", "/car/1", compare_headers=("Allow",)),
        Case("GET", "/car"),  # no trailing slash: Plumber's 404
        unclaimed(),
    ],
    "12-entrypoint": [
        Case("GET", "/counter"),
        Case("GET", "/counter", send_cookies=True),
        Case("GET", "/counter", send_cookies=True),
        Case("GET", "/counter", headers={"Cookie": "cookieName=forged"}),
        Case("POST", "/counter", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "13-promises": [
        Case("GET", "/sync", mask=mask_clock),
        Case("GET", "/async", mask=mask_clock),
        Case("GET", "/async-bad"),
        Case("GET", "/sync-bad"),
        Case("GET", "/sync-slow", mask=mask_clock),
        Case("POST", "/async", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "15-openapi-spec": [
        Case("GET", "/sum", "num=1&num=2&num=3"),
        Case("GET", "/sum", "num=7"),
        Case("GET", "/sum", "num=a&num=1"),  # NA with a warning
        Case("GET", "/sum"),  # num missing: 500
        Case("POST", "/sum", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "16-attachment": [
        Case("GET", "/name", mask=mask_clock, compare_headers=("Content-Disposition",)),
        Case("GET", "/no_name", mask=mask_clock, compare_headers=("Content-Disposition",)),
        Case("GET", "/inline", mask=mask_clock),
        Case("POST", "/name", compare_headers=("Allow",)),
        unclaimed(),
    ],
    "17-arguments": [
        Case("POST", "/bad-practice/1/2", "d=3"),
        Case("POST", "/bad-practice/1/2", body=b"d=3", headers=FORM),
        Case("POST", "/bad-practice/1/2", "a=3"),  # a given twice: 500
        Case("POST", "/bad-practice/1/2", "a=3", body=b"a=4", headers=FORM),
        Case("POST", "/good-practice/3/4", "a=1&b=2&d=10", body=b"a=5&b=6", headers=FORM),
        Case("POST", "/good-practice/3/4", body=b'{"a": [1, 2], "e": {"f": true}}',
             headers=JSON),
        Case("POST", "/good-practice/3/4", body=b"just text",
             headers={"Content-Type": "text/plain"}),
        malformed("/good-practice/3/4"),
        Case("GET", "/good-practice/3/4", compare_headers=("Allow",)),
        Case("POST", "/good-practice/3"),  # too short: Plumber's 404
        unclaimed(),
    ],
}

STYLES = ("attached", "bare")
# Examples that do not start in a style, under Plumber and so the bridge:
# without library(plumber), 06-sessions's `%>%` and 15-openapi-spec's
# Plumber$new() are not found.
NO_START = {("06-sessions", "bare"), ("15-openapi-spec", "bare")}


def served(example):
    """What `--plumber` is given: the folder for an entrypoint.R, else the file."""
    folder = EXAMPLES / example
    if (folder / "entrypoint.R").exists():
        return folder
    return folder / "plumber.R"


# ---- the two servers ----------------------------------------------------------

class PlumberRun:
    """The example under pr_run(), started in its folder as its README says."""

    def __init__(self, example, style):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        target = served(example)
        router = 'plumb(dir = ".")' if target.is_dir() else 'pr("plumber.R")'
        where = f'host = "127.0.0.1", port = {self.port}, docs = FALSE'
        if style == "attached":
            code = f"library(plumber); {router} %>% pr_run({where})"
        else:
            code = f"plumber::pr_run(plumber::{router}, {where})"
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(["Rscript", "-e", code], cwd=EXAMPLES / example,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.cookies = {}

    def wait_ready(self, timeout=90):
        """None when up; Plumber's output when it exited instead."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                return self.log.read() or "exited"
            try:
                requests.get(self.url + "/", timeout=5)
                return None
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"plumber did not start within {timeout}s")
                time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class BridgeRun:
    """`python -m bridge serve --plumber <example>`, in the loading style."""

    def __init__(self, example, style, models):
        args = ["--plumber", str(served(example)), "--reload-interval", "0"]
        if style == "bare":
            args.append("--plumber-bare")
        self.failure = None
        try:
            self.server = Server(models, *args)
            self.url = self.server.url
        except RuntimeError as exc:
            self.server = None
            self.failure = str(exc)
        self.cookies = {}

    def stop(self):
        if self.server is not None:
            self.server.stop()


@dataclasses.dataclass
class Answer:
    status: int
    content_type: str
    content: bytes
    headers: object

    @property
    def text(self):
        return self.content.decode(errors="replace")


def send(server, case):
    headers = dict(case.headers)
    if case.send_cookies and server.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in server.cookies.items())
    url = server.url + case.path + ("?" + case.query if case.query else "")
    r = requests.request(case.method, url, data=case.body or None, headers=headers,
                         timeout=60)
    server.cookies.update(r.cookies.get_dict())
    return Answer(r.status_code, r.headers.get("Content-Type"), r.content, r.headers)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Plumber and the bridge on one example in one style, started on first
    use; the pair before is stopped then, so two servers run at a time."""
    current = {}

    def get(example, style):
        key = (example, style)
        if key not in current:
            for pair in current.values():
                for server in pair:
                    server.stop()
            current.clear()
            plumber = PlumberRun(example, style)  # starts while the bridge does
            try:
                bridge = BridgeRun(example, style, tmp_path_factory.mktemp("models"))
                plumber.failure = plumber.wait_ready()
            except BaseException:
                plumber.stop()
                raise
            current[key] = (plumber, bridge)
        return current[key]

    yield get
    for pair in current.values():
        for server in pair:
            server.stop()


# ---- the tests ------------------------------------------------------------------

def test_every_example_shipped_is_tested_or_excused():
    shipped = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    assert shipped, EXAMPLES
    assert shipped - set(NOT_HERE) == set(CASES), (shipped, set(CASES))


ROUTE = re.compile(r"^#['*]\s*@(get|post|put|delete|patch|head|options)\s+(\S+)", re.M)


@pytest.mark.parametrize("example", sorted(CASES))
def test_every_route_gets_a_request(example):
    """Each annotated route of the example is hit by at least one case."""
    folder = EXAMPLES / example
    routes = [m.groups() for f in folder.glob("*.R") for m in ROUTE.finditer(f.read_text())]
    if example == "15-openapi-spec":  # its one route is made with pr$handle()
        routes = [("get", "/sum")]
    assert routes, example
    for verb, template in routes:
        pattern = "^" + re.sub(r"<[^>]+>", "[^/]+", template) + "$"
        hits = [c for c in CASES[example] if c.method == verb.upper()
                and re.match(pattern, c.path) and not c.differs]
        assert hits, f"{example}: no case for {verb.upper()} {template}"


PARAMS = [pytest.param(example, style, i, id=f"{example}-{style}-{i}-{case}")
          for example in sorted(CASES) for style in STYLES
          for i, case in enumerate(CASES[example])]


# Cases run in order, one example and style at a time: several examples keep
# state (01-append, 07-mailgun, 11-car-inventory, the cookie counters), and
# both servers see the same sequence.
@pytest.mark.parametrize("example, style, index", PARAMS)
def test_example_answers_as_plumber_does(pairs, example, style, index):
    plumber, bridge = pairs(example, style)
    if (example, style) in NO_START:
        assert plumber.failure and bridge.failure, (plumber.failure, bridge.failure)
        return
    assert not plumber.failure and not bridge.failure, (plumber.failure, bridge.failure)
    case = CASES[example][index]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        # Both at once: 13-promises sleeps 5 s a request.
        expected, got = pool.map(lambda server: send(server, case), (plumber, bridge))
    check(case, expected, got)


def check(case, expected, got):
    if case.differs:
        assert got.status == case.bridge["status"], (case.differs, got.status, got.text)
        assert content_type(got.content_type) == content_type(case.bridge["content_type"])
        if case.differs.startswith("malformed body"):
            assert expected.status == 500, (expected.status, expected.text)
            assert "could not be parsed" in parsed(got)["description"], got.text
        elif case.differs.startswith("unclaimed path"):
            assert expected.status in (404, 401, 500), (expected.status, expected.text)
            assert parsed(got)["title"] == "404 Not Found", got.text
        else:
            assert expected.content_type is None, expected.headers
            assert (got.status, got.content) == (expected.status, expected.content)
        return
    assert got.status == expected.status, (got.text, expected.text)
    assert content_type(got.content_type) == content_type(expected.content_type), \
        (got.headers, expected.headers)
    if case.mask:
        expected.content, got.content = case.mask(expected.content), case.mask(got.content)
    if case.method == "HEAD":
        assert got.content == expected.content == b""
    elif kind(expected) in BINARY:
        assert got.content == expected.content
    else:
        same(parsed(got), parsed(expected))
    for name in case.compare_headers:
        # The header is there when the call succeeds (16-attachment's bare
        # as_attachment() fails in both, without it).
        assert expected.status >= 400 or expected.headers.get(name) is not None, \
            (name, expected.headers)
        assert got.headers.get(name) == expected.headers.get(name), name


BINARY = {"application/pdf", "application/octet-stream", "image/png", "image/jpeg"}


def kind(answer):
    return (answer.content_type or "").split(";")[0].strip()

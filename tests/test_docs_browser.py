"""/docs in a real headless Chromium (Debian's), driven over the Chrome
DevTools protocol: the page loads from local files, lists the models, and
"Try it out" on a model returns R's own prediction."""

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import websocket

from conftest import EXAMPLES, ROOT, copy_model, rscript

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server(examples_server):
    return examples_server


class Navigated(Exception):
    pass


class Page:
    """One browser tab over the DevTools websocket: evaluate JS, wait for it."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.prompt_answer = None  # what to type into a window.prompt()
        self.prompts = []

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Page.javascriptDialogOpening":
                # The page's JS is paused until the dialog is answered.
                self.prompts.append(msg["params"]["message"])
                self.next_id += 1
                self.ws.send(json.dumps({"id": self.next_id, "method": "Page.handleJavaScriptDialog",
                                         "params": {"accept": True,
                                                    "promptText": self.prompt_answer or ""}}))
            elif msg.get("id") == my_id:
                if "navigated" in msg.get("error", {}).get("message", ""):
                    raise Navigated(msg["error"]["message"])
                assert "error" not in msg, msg
                return msg["result"]

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except Navigated:  # the page reloaded under the evaluation: ask again
                value = None
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {expression}; page text: "
                             f"{self.js('document.body.innerText')[:2000]!r}")


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "chromium is not installed: `make test` installs it (deploy/install-system.sh chromium)"
    profile = tempfile.mkdtemp(prefix="bridge-chromium-")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--no-default-browser-check", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text().strip()):
        assert proc.poll() is None, "chromium exited at start"
        assert time.monotonic() < deadline, "chromium did not open its DevTools port"
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser):
    target = requests.put(f"{browser}/json/new?about:blank", timeout=10).json()
    tab = Page(target["webSocketDebuggerUrl"])
    tab.call("Runtime.enable")
    tab.call("Page.enable")
    yield tab
    tab.ws.close()
    requests.get(f"{browser}/json/close/{target['id']}", timeout=10)


def r_prediction(row):
    code = (f'm <- readRDS("r_models/mtcars_lm.rds"); '
            f'nd <- data.frame(wt = {row["wt"]}, hp = {row["hp"]}, '
            f'cyl = factor("{row["cyl"]}", levels = c("4", "6", "8"))); '
            'cat(sprintf("%.17g", predict(m, nd)))')
    return float(rscript(code, cwd=ROOT))


def open_docs(page, url):
    page.call("Page.navigate", url=url + "/docs")


def wait_for_models(page):
    """Every model has its section (Swagger UI's tags)."""
    tags = page.wait_for(
        "(() => { const t = [...document.querySelectorAll('.opblock-tag')].map(e => e.dataset.tag);"
        " return t.length >= 4 ? t : null })()")
    assert {"mtcars_lm", "iris_rf", "infert_glm", "warpbreaks_ranger"} <= set(tags)


def tags(page):
    return page.js("[...document.querySelectorAll('.opblock-tag')].map(e => e.dataset.tag)")


def run_example(page):
    """Opens the mtcars_lm predict operation, "Try it out", "Execute" its example."""
    op = "#operations-mtcars_lm-predict_mtcars_lm"
    page.js(f"document.querySelector('{op} .opblock-summary-control').click()")
    page.wait_for(f"!!document.querySelector('{op} .try-out__btn')")
    page.js(f"document.querySelector('{op} .try-out__btn').click()")
    body = page.wait_for(f"document.querySelector('{op} textarea.body-param__text')?.value")
    page.js(f"document.querySelector('{op} .execute').click()")
    status = page.wait_for(
        f"document.querySelector('{op} .live-responses-table tr.response .response-col_status')?.innerText")
    answer = page.js(f"document.querySelector('{op} .live-responses-table .microlight')?.innerText")
    assert status.strip() == "200", answer
    got = json.loads(answer)
    row = json.loads(body)[0]
    assert got["model"] == "mtcars_lm"
    assert got["predictions"] == [pytest.approx(r_prediction(row), rel=1e-15)]


def try_it_out(page, url):
    open_docs(page, url)
    wait_for_models(page)
    run_example(page)


def authorize(page, key):
    """Swagger UI's own Authorize dialog: the key goes into the first scheme."""
    page.wait_for("!!document.querySelector('.auth-wrapper .btn.authorize')")
    page.js("document.querySelector('.auth-wrapper .btn.authorize').click()")
    page.wait_for("!!document.querySelector('.modal-ux .auth-container input')")
    # React reads an input's value through its own setter and an input event.
    page.js(f"""(() => {{
        const input = document.querySelector('.modal-ux .auth-container input');
        const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
        set.call(input, {json.dumps(key)});
        input.dispatchEvent(new Event('input', {{bubbles: true}}));
    }})()""")
    page.js("document.querySelector('.modal-ux .auth-container .btn.modal-btn.authorize').click()")
    # The document is fetched again with the key; the dialog may close with the re-render.
    page.js("document.querySelector('.modal-ux .btn-done, .modal-ux .close-modal')?.click()")


def test_swagger_ui_lists_models_and_tries_a_prediction(server, page):
    try_it_out(page, server.url)
    # Nothing was fetched from outside the bridge.
    entries = page.js("performance.getEntriesByType('resource').map(e => e.name)")
    assert any(u.endswith("/docs/static/swagger-ui-bundle.js") for u in entries), entries
    assert [u for u in entries if not u.startswith(server.url)] == []
    assert page.prompts == []
    # No keys, no Authorize button.
    assert page.js("document.querySelector('.auth-wrapper .btn.authorize')") is None


@pytest.fixture
def keyed_server(start_server, model_dir):
    for path in EXAMPLES.glob("*.rd*"):
        copy_model(path, model_dir)
    return start_server(model_dir, "--reload-interval", "0", env={"BRIDGE_API_KEYS": "k1,k2"})


def test_docs_page_takes_the_key_in_swagger_uis_authorize_dialog(keyed_server, page):
    open_docs(page, keyed_server.url)
    # Before a key: the page says one is needed and shows no model.
    page.wait_for("document.querySelector('.info')?.innerText.includes('needs an API key')")
    assert "mtcars_lm" not in tags(page)
    authorize(page, "k2")
    wait_for_models(page)
    run_example(page)  # "Try it out" sends the key
    assert page.prompts == []


def test_a_wrong_key_is_said_once_without_a_prompt(keyed_server, page):
    open_docs(page, keyed_server.url)
    authorize(page, "not-a-key")
    text = page.wait_for("(() => { const t = document.body.innerText;"
                         " return /Unauthorized|401/.test(t) ? t : null })()")
    assert "Failed to load API definition" in text
    assert "mtcars_lm" not in tags(page)
    assert page.prompts == []
    # The page stays put: no reload loop.
    assert page.js("performance.getEntriesByType('navigation').length") == 1

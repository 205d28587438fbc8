"""Starting while a model file will not load (issue 17): the port, /healthz and
every other model are served at once; the file is listed as loading until
--load-timeout ends it, then as an error; a replaced R worker catches up file
by file.

The file that hangs is a real hostile .rds built here with R: a serialised
promise (R before 4.4 deserialises one, and the first R code that touches
the object forces it) whose code never returns. Predictions are compared
with R's own predict() on the same files.
"""

import json
import math
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import EXAMPLES, copy_model

CARS = [{"wt": 2.62, "hp": 110, "cyl": "6"}, {"wt": 3.44, "hp": 175, "cyl": "8"}]
INFERT = [{"age": 26, "parity": 6, "education": "0-5yrs", "spontaneous": 2, "induced": 1},
          {"age": 42, "parity": 1, "education": "6-11yrs", "spontaneous": 0, "induced": 1}]

# A promise (SEXP type 5, with an environment: the global one, 253; not yet
# forced: the unbound value, 252) around `code`, written as a version-2 .rds.
HANG_RDS = r"""
code <- quote(repeat Sys.sleep(1))
b <- serialize(code, NULL, xdr = TRUE, version = 2)
int4 <- function(i) writeBin(as.integer(i), raw(), size = 4, endian = "big")
out <- c(b[1:14], int4(5L + 1024L), int4(253L), int4(252L), b[-(1:14)])
con <- gzfile(commandArgs(TRUE)[1], "wb"); writeBin(out, con); close(con)
"""

R_PREDICT = r"""
args <- commandArgs(TRUE)
cars <- data.frame(wt = c(2.62, 3.44), hp = c(110, 175), cyl = c("6", "8"))
infert_rows <- data.frame(age = c(26, 42), parity = c(6, 1), education = c("0-5yrs", "6-11yrs"),
                          spontaneous = c(2, 0), induced = c(1, 1))
e <- new.env(); load(args[2], e)
cat(jsonlite::toJSON(list(
  mtcars_lm = unname(predict(readRDS(args[1]), cars)),
  infert_glm = unname(predict(get("infert_glm", e), infert_rows))), digits = NA))
"""


@pytest.fixture(scope="module")
def r_answers():
    out = subprocess.run(["Rscript", "-e", R_PREDICT, str(EXAMPLES / "mtcars_lm.rds"),
                          str(EXAMPLES / "infert_glm.rda")],
                         capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


@pytest.fixture
def hanging_folder(model_dir):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    copy_model(EXAMPLES / "infert_glm.rda", model_dir)
    subprocess.run(["Rscript", "-e", HANG_RDS, str(model_dir / "hangs.rds")], check=True,
                   timeout=120)
    return model_dir


def wait_for(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {condition.__doc__ or condition}")


def listing(server):
    return {m["name"]: m for m in requests.get(server.url + "/models", timeout=10).json()["models"]}


def readyz(server):
    r = requests.get(server.url + "/readyz", timeout=10)
    return r.status_code, r.json()


def assert_predicts_like_r(server, model, rows, want):
    r = requests.post(f"{server.url}/models/{model}/predict", json=rows, timeout=60)
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert math.isclose(g, w, rel_tol=1e-12), (model, got, want)


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def test_a_file_whose_load_hangs_holds_nothing_else(start_server, hanging_folder, r_answers):
    # The load timeout only bounds the test: everything below is asserted
    # while the load is still stuck, and the listing proves it was.
    server = start_server(hanging_folder, "--workers", "2", "--load-timeout", "60",
                          "--reload-interval", "0", wait="port")
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200

    def others_served():
        models = listing(server)
        return all(models.get(n, {}).get("status") == "loaded" for n in ("mtcars_lm", "infert_glm"))

    wait_for(others_served)
    models = listing(server)
    assert models["hangs"] == {"name": "hangs", "file": "hangs.rds", "status": "loading"}, models
    status, body = readyz(server)
    assert (status, body["status"], body["scan"], body["loading"]) == (503, "starting", "running", 1)
    # A request for it is told to come back, not that it does not exist.
    r = requests.post(server.url + "/models/hangs/predict", json=CARS, timeout=10)
    assert r.status_code == 503 and r.headers["Retry-After"], r.text
    assert "still loading" in r.json()["description"]
    assert_predicts_like_r(server, "mtcars_lm", CARS, r_answers["mtcars_lm"])
    assert_predicts_like_r(server, "infert_glm", INFERT, r_answers["infert_glm"])
    assert listing(server)["hangs"]["status"] == "loading"  # all of the above ran while it hung

    # --load-timeout ends it: its worker is killed and replaced, the file reported.
    hung = wait_for(lambda: listing(server)["hangs"]["status"] == "error" and listing(server)["hangs"],
                    timeout=180)
    assert "--load-timeout" in hung["error"], hung
    status, body = readyz(server)
    assert (status, body["scan"], body["loading"]) == (200, "complete", 0), body
    for _ in range(10):  # on whichever worker answers, the replaced one included
        assert_predicts_like_r(server, "mtcars_lm", CARS, r_answers["mtcars_lm"])
        assert_predicts_like_r(server, "infert_glm", INFERT, r_answers["infert_glm"])
    assert server.proc.poll() is None


def test_with_one_worker_the_port_and_the_truth_come_first(start_server, hanging_folder, r_answers):
    """The only worker is stuck in the hanging load (the smallest file loads
    first): the port, /healthz, /models and /readyz still answer at once and
    say so; the others are served once the load timeout frees the worker."""
    server = start_server(hanging_folder, "--load-timeout", "20", "--reload-interval", "0",
                          wait="port")
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    wait_for(lambda: listing(server).get("hangs", {}).get("status") == "loading")
    status, body = readyz(server)
    assert (status, body["scan"]) == (503, "running"), body
    # One R process loads one file at a time: the others wait their turn, and say so.
    assert {n: m["status"] for n, m in listing(server).items()} == {
        "hangs": "loading", "mtcars_lm": "loading", "infert_glm": "loading"}

    wait_for(lambda: readyz(server)[1]["scan"] == "complete", timeout=180)
    models = listing(server)
    assert models["hangs"]["status"] == "error" and "--load-timeout" in models["hangs"]["error"]
    assert_predicts_like_r(server, "mtcars_lm", CARS, r_answers["mtcars_lm"])
    assert_predicts_like_r(server, "infert_glm", INFERT, r_answers["infert_glm"])


# A sidecar that holds its model's load while a file exists: the test decides
# when a load finishes, so nothing here depends on how long anything takes.
HOLD = ('while (file.exists("{hold}")) Sys.sleep(0.05)\n{extra}'
        'predict_fn <- function(model, newdata, ...) predict(model, newdata)\n')


def queue_depth(server):
    text = requests.get(server.url + "/metrics", timeout=10).text
    return next(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith("bridge_queue_depth"))


def test_a_replaced_worker_serves_each_file_as_soon_as_it_has_it(start_server, model_dir,
                                                                  r_answers, tmp_path):
    """One worker, two files; 'slow' took longer to load than 'quick' at
    start, so a replaced worker catches up with 'quick' first, and answers a
    request for it while 'slow' is still loading."""
    holds = {name: tmp_path / f"hold-{name}" for name in ("quick", "slow")}
    for name in holds:
        copy_model(EXAMPLES / "mtcars_lm.rds", model_dir, f"{name}.rds")
    (model_dir / "quick.R").write_text(HOLD.format(hold=holds["quick"], extra=""))
    (model_dir / "slow.R").write_text(HOLD.format(hold=holds["slow"], extra="Sys.sleep(3)\n"))
    server = start_server(model_dir, "--reload-interval", "0", "--predict-timeout", "120")
    [worker] = children(server.proc.pid)

    for hold in holds.values():
        hold.touch()
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: readyz(server)[1]["r_workers"]["ready"] == 0)  # the front saw it go
    answers = {}
    asking = threading.Thread(target=lambda: answers.update(quick=requests.post(
        f"{server.url}/models/quick/predict", json=CARS, timeout=120)))
    asking.start()
    wait_for(lambda: queue_depth(server) >= 1)  # it waits for a worker that has 'quick'
    holds["quick"].unlink()                     # 'quick' loads; 'slow' stays held
    asking.join(120)
    assert not asking.is_alive(), "the request for 'quick' waited for 'slow' to load"
    r = answers["quick"]
    assert r.status_code == 200, r.text
    assert all(math.isclose(g, w, rel_tol=1e-12)
               for g, w in zip(r.json()["predictions"], r_answers["mtcars_lm"]))
    assert holds["slow"].exists()  # so 'slow' was not loaded yet in the new worker
    status, body = readyz(server)
    assert status == 503 and body["r_workers"]["ready"] == 0, body  # not caught up yet

    holds["slow"].unlink()
    wait_for(lambda: readyz(server)[0] == 200)
    assert_predicts_like_r(server, "slow", CARS, r_answers["mtcars_lm"])
    assert children(server.proc.pid) != [worker]

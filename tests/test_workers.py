"""Throughput machinery, with real R: batching keeps every answer R's own,
workers are replaced, stuck calls time out, overload is refused, SIGTERM drains."""

import json
import math
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bridge.registry import Registry
from bridge.rsession import RSession
from bridge.table import Table
from conftest import EXAMPLES, copy_model

CARS = [{"wt": 2.62, "hp": 110, "cyl": "6"}]


@pytest.fixture(scope="module")
def batching_registry(fixture_models):
    # A wait long enough that concurrent requests always meet in one batch.
    session = RSession(max_wait=0.2)
    batches = []
    session.on_batch.append(lambda name, rows, n: batches.append((name, rows, n)))
    reg = Registry(fixture_models, session)
    reg.scan()
    return reg, batches


def close(got, want):
    if isinstance(want, dict):
        return all(close(got[k], v) for k, v in want.items())
    if want is None or got is None:
        return got is want
    if isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
    return got == want


def one_row(row):
    return Table({k: [v] for k, v in row.items()}, 1)


def test_concurrent_rows_are_batched_and_each_gets_r_answer(batching_registry, fixture_models):
    reg, batches = batching_registry
    jobs = []
    for case in sorted(fixture_models.glob("*.case.json")):
        spec = json.loads(case.read_text())
        for row, want in zip(spec["rows"], spec["expected"]):
            jobs.append((spec["model"], row, spec["args"], want))

    def run(job):
        model, row, args, want = job
        got = reg.get(model).predict_table(one_row(row), args).records()
        return job, got

    before = len(batches)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(run, jobs))
    for (model, row, args, want), got in results:
        assert len(got) == 1 and close(got[0], want), (model, row, got, want)
    merged = [b for b in batches[before:] if b[2] > 1]
    assert merged, "no two requests were ever predicted together"


def test_a_request_failing_in_r_does_not_fail_its_batch(model_dir):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir, "picky.rds")
    (model_dir / "picky.R").write_text(
        "predict_fn <- function(model, newdata) {\n"
        "  if (any(newdata$hp > 1000)) stop('hp over 1000 is not a car')\n"
        "  predict(model, newdata)\n}\n")
    (model_dir / "picky.json").write_text(json.dumps({"batching": True}))
    session = RSession(max_wait=0.3)
    batches = []
    session.on_batch.append(lambda name, rows, n: batches.append(n))
    reg = Registry(model_dir, session)
    reg.scan()
    model = reg.get("picky")
    rows = [{"wt": 2.62, "hp": 110 + i, "cyl": "6"} for i in range(7)] + [{"wt": 2.62, "hp": 5000, "cyl": "6"}]

    def run(row):
        try:
            return model.predict_table(one_row(row), {}).records()[0]
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(run, rows))
    assert max(batches) > 1
    assert all(isinstance(r, float) for r in results[:7]), results
    assert results[7].status == 500 and "not a car" in results[7].description
    singles = [model.predict_table(one_row(r), {}).records()[0] for r in rows[:7]]
    assert results[:7] == singles


@pytest.fixture
def slow_models(model_dir):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir, "forever.rds")
    (model_dir / "forever.R").write_text("predict_fn <- function(model, newdata) { repeat {} }\n")
    (model_dir / "forever.json").write_text(json.dumps({"timeout": 1}))
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir, "slow.rds")
    (model_dir / "slow.R").write_text(
        "predict_fn <- function(model, newdata, secs = 1) { Sys.sleep(secs); predict(model, newdata) }\n")
    return model_dir


def test_endless_predict_times_out_and_r_recovers(start_server, slow_models):
    server = start_server(slow_models, "--reload-interval", "0")
    resp = requests.post(server.url + "/models/forever/predict", json=CARS, timeout=60)
    assert resp.status_code == 504, resp.text
    resp = requests.post(server.url + "/models/mtcars_lm/predict", json=CARS, timeout=60)
    assert resp.status_code == 200, resp.text
    assert math.isclose(resp.json()["predictions"][0], 21.608512809961155, rel_tol=1e-12)


def test_burst_beyond_the_queue_gets_503_with_retry_after(start_server, slow_models):
    server = start_server(slow_models, "--reload-interval", "0", "--max-queue", "2", "--threads", "16")

    def call(_):
        return requests.post(server.url + "/models/slow/predict",
                             json={"data": CARS, "args": {"secs": 0.5}}, timeout=60)

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(call, range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert 503 in statuses and 200 in statuses, statuses
    assert set(statuses) <= {200, 503}
    assert all(r.headers.get("Retry-After") for r in responses if r.status_code == 503)
    assert requests.post(server.url + "/models/mtcars_lm/predict", json=CARS, timeout=60).status_code == 200


def test_sigterm_lets_the_request_in_flight_finish(start_server, slow_models):
    server = start_server(slow_models, "--reload-interval", "0")
    result = {}

    def call():
        result["resp"] = requests.post(server.url + "/models/slow/predict",
                                       json={"data": CARS, "args": {"secs": 2}}, timeout=60)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.7)
    server.proc.send_signal(signal.SIGTERM)
    thread.join(60)
    assert result["resp"].status_code == 200, result["resp"].text
    assert server.proc.wait(30) == 0


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def test_workers_serve_one_port_and_a_dead_worker_is_replaced(start_server, model_dir):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    server = start_server(model_dir, "--workers", "2", "--reload-interval", "0")
    workers = children(server.proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        now = children(server.proc.pid)
        if len(now) == 2 and workers[0] not in now:
            break
        time.sleep(0.5)
    assert len(children(server.proc.pid)) == 2
    for _ in range(20):
        resp = requests.post(server.url + "/models/mtcars_lm/predict", json=CARS, timeout=60)
        assert resp.status_code == 200, resp.text


def test_r_objects_dropped_off_the_r_thread_are_released_on_it(session):
    """A wrapper that dies on another thread must not call into R there."""
    from bridge import rsession

    vec = session.run(lambda: session.ri.FloatSexpVector([1.0, 2.0]))
    session.run(lambda: None)  # the R thread lets go of the previous job
    before = len(rsession._deferred)
    del vec  # dropped here, on the test's thread
    assert len(rsession._deferred) == before + 1
    session.run(lambda: None)  # the R thread's next job releases it
    assert len(rsession._deferred) == 0


def test_inline_calls_time_out_too(model_dir):
    """An idle R runs a request on the caller's thread; its timeout must still hold."""
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir, "forever.rds")
    (model_dir / "forever.R").write_text("predict_fn <- function(model, newdata) { repeat {} }\n")
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    session = RSession()
    reg = Registry(model_dir, session)
    reg.scan()
    with pytest.raises(Exception) as err:
        reg.get("forever").predict_table(one_row(CARS[0]), {}, timeout=1)
    assert err.value.status == 504
    got = reg.get("mtcars_lm").predict_table(one_row(CARS[0]), {}).records()
    assert math.isclose(got[0], 21.608512809961155, rel_tol=1e-12)

"""An R worker's memory stays flat under traffic (issue 17): no request leaves
R objects behind. Read from /proc/<worker pid>/status (VmRSS) of the one R
worker of a real server, after a warm-up (R's own caches, the first
allocations), then through the rest of the run: every sample within 10% of
the warm-up figure. Measured on a4cf99c it grew ~0.9 MB per 20,000-row
request (111 -> 382 MB over 300); the figures are printed (pytest -s).

Predictions are checked against R's predict() as they go, so a worker that
stopped computing could not pass by staying small.
"""

import http.client
import json
import math
import random
import subprocess

import orjson
import pytest

from conftest import EXAMPLES, copy_model, rscript, rss_kb

ROWS = 20_000
TOLERANCE = 1.10


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


@pytest.fixture(scope="module")
def table():
    rng = random.Random(17)
    columns = {"wt": [round(rng.uniform(1.5, 5.5), 3) for _ in range(ROWS)],
               "hp": [rng.randint(50, 330) for _ in range(ROWS)],
               "cyl": [rng.choice(["4", "6", "8"]) for _ in range(ROWS)]}
    return columns


@pytest.fixture(scope="module")
def r_predictions(table, tmp_path_factory):
    path = tmp_path_factory.mktemp("memory") / "rows.json"
    path.write_bytes(orjson.dumps(table))
    out = rscript(f'd <- as.data.frame(jsonlite::fromJSON("{path}")); '
                  f'cat(jsonlite::toJSON(unname(predict(readRDS("{EXAMPLES / "mtcars_lm.rds"}"), d)), '
                  'digits = NA))')
    return json.loads(out)


@pytest.fixture
def worker_server(start_server, model_dir):
    copy_model(EXAMPLES / "mtcars_lm.rds", model_dir)
    server = start_server(model_dir, "--reload-interval", "0", "--workers", "1")
    [worker] = children(server.proc.pid)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)  # one kept-alive connection
    yield server, worker, conn
    conn.close()


def post(conn, body):
    conn.request("POST", "/models/mtcars_lm/predict", body=body,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 200, data[:300]
    return orjson.loads(data)["predictions"]


def assert_flat(samples, what):
    warm = samples[0][1]
    report = ", ".join(f"{n}: {kb / 1024:.1f} MB" for n, kb in samples)
    print(f"\nworker RSS over {what}: {report}")
    assert max(kb for _, kb in samples) <= warm * TOLERANCE, report


def test_rss_is_flat_over_300_requests_of_20000_rows(worker_server, table, r_predictions):
    server, worker, conn = worker_server
    body = orjson.dumps({"data": table})
    samples = []
    for i in range(1, 301):
        got = post(conn, body)
        if i % 50 == 0 or i == 1:
            assert len(got) == ROWS
            assert all(math.isclose(g, w, rel_tol=1e-9) for g, w in zip(got, r_predictions))
        if i % 30 == 0:  # the first sample, after 30 requests of warm-up, is the reference
            samples.append((i, rss_kb(worker)))
    assert worker in children(server.proc.pid)  # the same process throughout, never replaced
    assert_flat(samples, f"300 requests of {ROWS} rows")


def test_rss_is_flat_over_50000_single_row_requests(worker_server, table, r_predictions):
    server, worker, conn = worker_server
    bodies = [orjson.dumps([{c: table[c][i] for c in table}]) for i in range(100)]
    samples = []
    for i in range(1, 50_001):
        k = i % 100
        got = post(conn, bodies[k])
        if i % 997 == 0:
            assert math.isclose(got[0], r_predictions[k], rel_tol=1e-9), (got, r_predictions[k])
        if i % 5000 == 0:  # the first sample, after 5,000 of warm-up, is the reference
            samples.append((i, rss_kb(worker)))
    assert worker in children(server.proc.pid)
    assert_flat(samples, "50,000 single-row requests")

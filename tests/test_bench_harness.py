"""The benchmark's two servers predict what R does for the same rows: a check
of the harness in bench/ (its Plumber app and request bodies), not of speed."""

import json

import orjson
import pytest
from conftest import EXAMPLES, rscript

from bench import servers
from bench.workload import Workload

MODEL = EXAMPLES / "mtcars_lm.rds"


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    logs = tmp_path_factory.mktemp("bench-logs")
    probe = Workload.make(1).single
    started = []
    try:
        for server in (servers.plumber(MODEL, logs), servers.bridge(EXAMPLES, logs)):
            started.append(server)
            server.start(probe)
        yield started
    finally:
        for server in started:
            server.stop()


def r_predict(rows):
    frame = json.dumps(json.dumps(rows))
    out = rscript(f"m <- readRDS('{MODEL}'); d <- jsonlite::fromJSON({frame}); "
                  "d$cyl <- factor(d$cyl, levels = m$xlevels$cyl); "
                  "cat(jsonlite::toJSON(unname(predict(m, d)), digits = NA))")
    return json.loads(out)


@pytest.mark.parametrize("rows", [Workload.make(3, seed=7).rows,
                                  [{"wt": 3.1, "hp": 150, "cyl": "8"}]],
                         ids=["three-rows", "one-level-only"])
@pytest.mark.parametrize("shape", ["rows", "columns"])
def test_both_servers_predict_what_r_does(both, rows, shape):
    work = Workload(rows)
    body = work.json_rows() if shape == "rows" else work.json_columns()
    expected = r_predict(rows)
    for server in both:
        status, data = servers.post(server.port, server.predict_path, body)
        assert status == 200, data
        assert orjson.loads(data)["predictions"] == pytest.approx(expected, rel=1e-12), server.name

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


def test_latency_budget_times_every_stage_in_its_process(tmp_path):
    """bench/budget (issue 22): each stage's probe is installed in the process
    it runs in and records calls inside the timed window; a renamed function
    in the bridge fails here, not silently in a benchmark."""
    from bench.budget import run as budget

    result = budget.run(MODEL, single=30, warmup=5, bulk_rows=300, bulk_runs=2,
                        out_dir=tmp_path, floor_calls=50)
    for phase in ("single", "bulk"):
        seen = {(s["stage"], s["process"]) for s in result["phases"][phase]["stages"]}
        for stage, process, _ in budget.STAGES:
            if stage == "front.middleware.*":
                assert any(s.startswith("front.middleware.RequestLog") for s, _ in seen), seen
                continue
            processes = ("front", "worker") if process == "both" else (process,)
            for p in processes:
                assert (stage, p) in seen, (phase, stage, p, sorted(seen))
        stages = {(s["stage"], s["process"]): s for s in result["phases"][phase]["stages"]}
        # one predict() per request, timed in R, inside the wrapper that calls it
        assert stages[("worker.r_predict", "worker")]["calls_per_request"] == 1
        assert (stages[("worker.r_predict", "worker")]["per_request_ms"]
                <= stages[("worker.r_wrapper_call", "worker")]["per_request_ms"])
    assert all(v > 0 for v in result["floors"].values()), result["floors"]
    assert "R's predict() itself" in budget.table(result)


def test_a_new_report_keeps_the_hand_written_sections_below_the_mark(tmp_path):
    from bench.report import KEPT, write

    path = tmp_path / "RESULTS.md"
    write(path, "# first run\n")
    assert path.read_text() == f"# first run\n\n{KEPT}\n"
    path.write_text(path.read_text() + "## By hand\n\nkept text\n")
    write(path, "# second run\n| a | b |\n")
    assert path.read_text() == f"# second run\n| a | b |\n\n{KEPT}\n## By hand\n\nkept text\n"
    legacy = tmp_path / "old.md"
    legacy.write_text("no mark: a report from before the mark\n")
    write(legacy, "# new\n")
    assert legacy.read_text() == f"# new\n\n{KEPT}\n"

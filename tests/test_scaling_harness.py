"""The scaling and memory benchmarks (issue 22) measure what they say: every
process of the server is found and read, and every model the memory bench
serves answers what R's own predict() said for it. Checks of the harness on
real servers with real R, not of speed: no timed assertions."""

import pytest
from conftest import EXAMPLES

from bench import memory, scaling

MODEL = EXAMPLES / "mtcars_lm.rds"


def test_scaling_reads_the_cpu_of_the_front_and_each_worker(tmp_path):
    plan = scaling.Plan(workers=(2,), threads=(4,), connections=(2,), seconds=1,
                        plumber=True, hello=True, two_fronts=True, repeat=False)
    points = scaling.run(MODEL, EXAMPLES, tmp_path, plan)
    by_server = {p.server: p for p in points}
    assert set(by_server) == {"hello", "bridge", "plumber", "two fronts"}, by_server
    bridge = by_server["bridge"]
    assert (bridge.workers, bridge.threads, bridge.connections) == (2, 4, 2)
    assert set(bridge.cpu) == {"front", "worker 0", "worker 1", "wrk", "other"}, bridge.cpu
    assert bridge.requests > 0 and bridge.errors == 0
    # the front did the HTTP work and some worker ran R for the answers
    assert bridge.cpu_ms_per_request["front"] > 0
    assert bridge.cpu_ms_per_request["worker 0"] + bridge.cpu_ms_per_request["worker 1"] > 0
    # every answer came from some R call, which held at least one request
    assert bridge.per_r_call is not None and bridge.per_r_call >= 1, bridge.per_r_call
    assert by_server["hello"].per_r_call is None
    two = by_server["two fronts"]
    assert {"0:front", "0:worker 0", "1:front", "1:worker 0"} <= set(two.cpu), two.cpu
    assert all(p.errors == 0 for p in points), [(p.server, p.errors) for p in points]
    text = scaling.write(points, tmp_path)
    assert text.count("\n| ") == len(points)  # one row per point under the header
    assert (tmp_path / "scaling.json").exists()


def test_memory_serves_generated_models_and_checks_each_against_r(tmp_path):
    """Four models, one of each kind (lm, glm, randomForest, ranger), written
    by R with R's own prediction for a row; the bench asks the bridge for
    each and compares (bench/memory.py raises on a difference)."""
    point = memory.measure(4, workers=1, out_dir=tmp_path)
    assert point.checked == 4
    assert set(point.after_load) == set(point.after_requests) == {"front", "worker 0"}
    for role, mem in point.after_requests.items():
        assert 0 < mem["private"] <= mem["rss"], (role, mem)
    assert point.file_bytes > 0 and point.r_bytes > 0
    assert "| 4 |" in memory.table([point])


@pytest.mark.parametrize("got, want, same", [
    ([21.7], 21.7, True), ([21.7], 21.700001, False), (["setosa"], "setosa", True),
    (["setosa"], "virginica", False), ([21.7, 21.7], 21.7, False), (["21.7"], 21.7, False)])
def test_memory_answer_check_can_fail(got, want, same):
    assert memory._same(got, want) is same

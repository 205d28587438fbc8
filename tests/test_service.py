"""The service layer (bridge/service): every protocol goes through it and is
counted under its model with the protocol as a label; observers hear of
every answered and refused call and cannot fail a caller; /openapi.json
shows the configured horizon limit. Real servers, real R."""

import shutil

import pytest
import requests
from falcon import testing

from conftest import EXAMPLES, Server, rscript

ROW = {"wt": 2.62, "hp": 110, "cyl": "6"}
TIMEOUT = 60


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("service")
    shutil.copy(EXAMPLES / "mtcars_lm.rds", out)
    rscript('saveRDS(forecast::ets(datasets::AirPassengers, model = "MAN", damped = TRUE), '
            '"ap_ets.rds")', cwd=out)
    return out


@pytest.fixture(scope="module")
def server(folder):
    srv = Server(folder, "--reload-interval", "0", env={"BRIDGE_MAX_HORIZON": "36"})
    yield srv
    srv.stop()


def metrics(server):
    out = {}
    for line in requests.get(server.url + "/metrics", timeout=TIMEOUT).text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def predictions(samples, model, protocol, status="200"):
    return samples[f'bridge_predictions_total{{model="{model}",protocol="{protocol}",status="{status}"}}']


PROTOCOLS = {
    "json": lambda url: requests.post(f"{url}/models/mtcars_lm/predict", json=[ROW], timeout=TIMEOUT),
    "csv": lambda url: requests.post(f"{url}/models/mtcars_lm/predict", data="wt,hp,cyl\n2.62,110,6\n",
                                     headers={"Content-Type": "text/csv"}, timeout=TIMEOUT),
    "v2": lambda url: requests.post(f"{url}/v2/models/mtcars_lm/infer", timeout=TIMEOUT, json={"inputs": [
        {"name": "wt", "datatype": "FP64", "shape": [1], "data": [2.62]},
        {"name": "hp", "datatype": "FP64", "shape": [1], "data": [110]},
        {"name": "cyl", "datatype": "BYTES", "shape": [1], "data": ["6"]}]}),
    "mlflow": lambda url: requests.post(f"{url}/invocations?model=mtcars_lm", timeout=TIMEOUT,
                                        json={"dataframe_records": [ROW]}),
}


def test_every_protocol_is_counted_under_its_model(server):
    before = metrics(server)
    for protocol, send in PROTOCOLS.items():
        assert predictions(before, "mtcars_lm", protocol) == 0, protocol
        r = send(server.url)
        assert r.status_code == 200, (protocol, r.text)
    r = requests.post(f"{server.url}/models/ap_ets/forecast", json={"h": 3}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    after = metrics(server)
    for protocol in PROTOCOLS:
        assert predictions(after, "mtcars_lm", protocol) == 1, protocol
        assert after[f'bridge_prediction_duration_seconds_count{{model="mtcars_lm",protocol="{protocol}"}}'] == 1
    assert predictions(after, "ap_ets", "forecast") == 1
    assert after['bridge_request_rows_sum{model="mtcars_lm"}'] == len(PROTOCOLS)
    # the HTTP endpoints now know the model V2 and MLflow were asked for
    assert after['bridge_requests_total{endpoint="/v2/models/{name}/infer",model="mtcars_lm",status="200"}'] == 1
    assert after['bridge_requests_total{endpoint="/invocations",model="mtcars_lm",status="200"}'] == 1


@pytest.mark.parametrize("protocol,model,send,status", [
    ("json", "mtcars_lm", lambda url: requests.post(f"{url}/models/mtcars_lm/predict",
                                                    json=[{**ROW, "cyl": "5"}]), 422),
    ("json", "mtcars_lm", lambda url: requests.post(f"{url}/models/mtcars_lm/predict", data=b"{nope",
                                                    headers={"Content-Type": "application/json"}), 400),
    # V2 answers 400 where the service refused with 422 (the protocol's rule);
    # the count is the service's status, the same for every protocol
    ("v2", "mtcars_lm", lambda url: requests.post(f"{url}/v2/models/mtcars_lm/infer", json={"inputs": [
        {"name": "wt", "datatype": "FP64", "shape": [1], "data": [2.62]}]}), (400, 422)),
    ("mlflow", "mtcars_lm", lambda url: requests.post(f"{url}/invocations?model=mtcars_lm",
                                                      json={"instances": [{}]}), 422),
    ("forecast", "ap_ets", lambda url: requests.post(f"{url}/models/ap_ets/forecast", json={"h": 37}), 422),
    ("forecast", "mtcars_lm", lambda url: requests.post(f"{url}/models/mtcars_lm/forecast",
                                                        json={"h": 1}), 422),
])
def test_refused_calls_are_counted_by_protocol(server, protocol, model, send, status):
    status, counted = status if isinstance(status, tuple) else (status, status)
    key = f'bridge_predictions_total{{model="{model}",protocol="{protocol}",status="{counted}"}}'
    before = metrics(server).get(key, 0)
    r = send(server.url)
    assert r.status_code == status, r.text
    assert metrics(server)[key] == before + 1


def test_openapi_shows_the_configured_horizon(server):
    doc = requests.get(server.url + "/openapi.json", timeout=TIMEOUT).json()
    schema = doc["paths"]["/models/ap_ets/forecast"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert schema["properties"]["h"]["maximum"] == 36
    r = requests.post(f"{server.url}/models/ap_ets/forecast", json={"h": 37}, timeout=TIMEOUT)
    assert r.status_code == 422 and "BRIDGE_MAX_HORIZON" in r.json()["description"], r.text


# ---- in process: the service's observers --------------------------------------------------------

class Recorder:
    def __init__(self):
        self.events = []

    def observe(self, event):
        self.events.append(event)


class Broken:
    calls = 0

    def observe(self, event):
        Broken.calls += 1
        raise RuntimeError("an observer's bug")


@pytest.fixture(scope="module")
def observed(pool, tmp_path_factory):
    from bridge.http.app import create_app
    from bridge.registry import Registry
    from bridge.service import Service

    folder = tmp_path_factory.mktemp("observed")
    shutil.copy(EXAMPLES / "mtcars_lm.rds", folder)
    registry = Registry(folder, pool)
    registry.scan()
    recorder = Recorder()
    service = Service(registry, pool, observers=[Broken(), recorder])
    yield testing.TestClient(create_app(registry, service=service)), recorder
    registry.stop()


@pytest.mark.parametrize("path,body,status,model", [
    ("/models/mtcars_lm/predict", [ROW, ROW], 200, "mtcars_lm"),
    ("/models/mtcars_lm/predict", [{**ROW, "cyl": "5"}], 422, "mtcars_lm"),
    ("/models/mtcars_lm/predict", {"data": [ROW], "args": {"system": 1}}, 422, "mtcars_lm"),
    ("/models/nobody/predict", [ROW], 404, None),
    ("/models/mtcars_lm/predict", {"neither": 1}, 400, "mtcars_lm"),
    ("/invocations", {"dataframe_records": [ROW]}, 200, "mtcars_lm"),
])
def test_observers_hear_every_call_and_cannot_fail_it(observed, path, body, status, model):
    client, recorder = observed
    before, broken = len(recorder.events), Broken.calls
    r = client.simulate_post(path, json=body, headers={"X-Request-ID": "rid-1"})
    assert r.status_code == status, r.text
    assert len(recorder.events) == before + 1  # exactly one event per call
    assert Broken.calls == broken + 1          # the broken observer ran, and failed nobody
    event = recorder.events[-1]
    assert (event.status, event.model, event.context.request_id) == (status, model, "rid-1")
    assert event.context.protocol == ("mlflow" if path == "/invocations" else "json")
    assert event.latency_ms >= 0
    if status == 200:
        assert event.answer.model == "mtcars_lm" and event.answer.version is None
        assert event.request.nrows == (len(body) if isinstance(body, list) else 1)
        assert event.table.nrows == event.request.nrows
        assert event.error is None
    else:
        assert event.answer is None and event.error.status == status


def test_local_scoring_goes_through_the_service(session):
    from bridge.r.model import load_model
    from bridge.service import Context, LocalCatalog, Service
    from bridge.table import Table

    model = load_model(EXAMPLES / "mtcars_lm.rds")
    recorder = Recorder()
    service = Service(LocalCatalog([model]), observers=[recorder])
    answer = service.predict("mtcars_lm", Table.from_pandas(__import__("pandas").DataFrame([ROW])), {},
                             Context("cli"))
    assert answer.result.columns == model.predict_table(Table({k: [v] for k, v in ROW.items()}, 1),
                                                        {}).columns
    assert [(e.status, e.model, e.context.protocol) for e in recorder.events] == [(200, "mtcars_lm", "cli")]
    with pytest.raises(Exception) as info:
        service.predict("mtcars_lm", Table({"wt": [1.0]}, 1), {}, Context("cli"))
    assert info.value.status == 422 and recorder.events[-1].status == 422


def test_no_import_cycle_in_bridge():
    """Module-level imports of bridge/ form no cycle (forecast -> payload ->
    table -> forecast was one)."""
    import ast

    from conftest import ROOT

    root = ROOT / "bridge"
    names = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                deps.update(f"{base}.{a.name}" if f"{base}.{a.name}" in names else base
                            for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in names and d != name}
    cycles, done = [], set()

    def walk(name, path):
        for dep in sorted(graph[name]):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in done:
                walk(dep, path + [dep])
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            walk(name, [name])
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_a_slow_observer_drops_and_counts_and_never_holds_the_caller():
    import threading

    from bridge.service import Context, Event, Queued

    release, seen = threading.Event(), []

    class Slow:
        def observe(self, event):
            release.wait(30)  # blocks until the test lets it go (bounded)
            seen.append(event)

    queued = Queued(Slow(), maxsize=1)
    events = [Event(Context("json"), "m", None, 200, 1.0) for _ in range(6)]
    for event in events:
        queued.observe(event)  # returns at once: the slow observer is blocked
    release.set()
    queued.join()
    assert queued.dropped >= 4 and len(seen) + queued.dropped == len(events)
    queued.close()


def test_a_batching_observer_sees_every_call_in_order_and_ticks_meanwhile():
    """Queued(batch=): a wake-up per batch, but every event observed, in
    order, and the observer's tick() due while a stream never pauses."""
    import time

    from bridge.service import Context, Event, Queued

    seen, ticks = [], []

    class Counting:
        def observe(self, event):
            seen.append(event.latency_ms)

        def tick(self):
            ticks.append(len(seen))

        def close(self):
            seen.append("closed")

    queued = Queued(Counting(), maxsize=1_000_000, tick=0.05, batch=0.02)
    n, stop = 0, time.monotonic() + 0.6
    while time.monotonic() < stop:  # no pause for the observer to catch up in
        queued.observe(Event(Context("json"), "m", None, 200, float(n)))
        n += 1
    queued.join()
    assert queued.dropped == 0 and seen == [float(i) for i in range(n)]
    assert any(t < n for t in ticks), (ticks, n)  # ticked during the stream
    assert queued.close(timeout=5) and seen[-1] == "closed"


@pytest.mark.parametrize("room", ["service", "formats"])
def test_the_data_plane_imports_neither_falcon_nor_rpy2(room):
    import ast

    from conftest import ROOT

    for path in (ROOT / "bridge" / room).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("falcon", "rpy2"), (path.name, name)

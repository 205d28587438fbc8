"""Operations: probes, metrics, the access log, the lock, the deploy files.

One real server (with --require-lock) serves the HTTP tests; the rest run
in-process or read files."""

import json
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests
import yaml
from falcon import testing

from conftest import EXAMPLES, ROOT, Server

ROW = {"wt": 2.62, "hp": 110, "cyl": "6"}


def run_bridge(*args):
    done = subprocess.run([sys.executable, "-m", "bridge", *args], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    """A folder locked with `python -m bridge lock`, then changed behind the lock."""
    folder = tmp_path_factory.mktemp("locked_models")
    for name in ("good", "tampered", "sidecar_added"):
        shutil.copy(EXAMPLES / "mtcars_lm.rds", folder / f"{name}.rds")
    (folder / "good.json").write_text('{"description": "locked with its sidecar"}')
    run_bridge("lock", "--models", str(folder))
    # After locking: a file swapped for another valid model, a new file, a new
    # sidecar (R code run at load) for a locked model.
    shutil.copy(EXAMPLES / "iris_rf.rds", folder / "tampered.rds")
    shutil.copy(EXAMPLES / "mtcars_lm.rds", folder / "unlisted.rds")
    (folder / "sidecar_added.R").write_text(
        'predict_fn <- function(model, newdata, ...) stop("must never load")\n')
    return folder


@pytest.fixture(scope="module")
def server(locked):
    srv = Server(locked, "--require-lock", env={"BRIDGE_RELOAD_INTERVAL": "0.5"})
    yield srv
    srv.stop()


def listing(server):
    r = requests.get(server.url + "/models")
    assert r.status_code == 200, r.text
    return {m["name"]: m for m in r.json()["models"]}


# ---- lock ----------------------------------------------------------------------------------

def test_lock_refuses_files_that_do_not_match(server):
    models = listing(server)
    assert models["good"]["status"] == "loaded", models
    for name, why in (("tampered", "does not match"), ("unlisted", "not in bridge.lock"),
                      ("sidecar_added", "sidecar_added.R is not in bridge.lock")):
        assert models[name]["status"] == "error", models[name]
        assert why in models[name]["error"], models[name]
        r = requests.post(f"{server.url}/models/{name}/predict", json=[ROW])
        assert r.status_code == 404, r.text
    r = requests.post(f"{server.url}/models/good/predict", json=[ROW])
    assert r.status_code == 200, r.text


def test_relocking_loads_the_approved_files(tmp_path, start_server):
    # A server of its own: this test changes its folder.
    shutil.copy(EXAMPLES / "mtcars_lm.rds", tmp_path / "a.rds")
    run_bridge("lock", "--models", str(tmp_path))
    shutil.copy(EXAMPLES / "mtcars_lm.rds", tmp_path / "b.rds")
    srv = start_server(tmp_path, "--require-lock", "--reload-interval", "0.2")
    assert listing(srv)["b"]["status"] == "error"
    run_bridge("lock", "--models", str(tmp_path))
    deadline = time.monotonic() + 60
    while listing(srv)["b"]["status"] != "loaded" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert listing(srv)["b"]["status"] == "loaded", listing(srv)
    assert requests.post(f"{srv.url}/models/b/predict", json=[ROW]).status_code == 200


def test_lock_file_lists_models_and_sidecars(locked):
    doc = json.loads((locked / "bridge.lock").read_text())
    assert set(doc["files"]) == {"good.rds", "good.json", "tampered.rds", "sidecar_added.rds"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in doc["files"].values())


def test_missing_lock_refuses_everything(tmp_path):
    from bridge.errors import ModelLoadError
    from bridge.manifest import Manifest

    shutil.copy(EXAMPLES / "mtcars_lm.rds", tmp_path / "a.rds")
    with pytest.raises(ModelLoadError, match="not found"):
        Manifest(tmp_path / "bridge.lock").verify(tmp_path / "a.rds")
    (tmp_path / "bridge.lock").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a valid lock file"):
        Manifest(tmp_path / "bridge.lock").verify(tmp_path / "a.rds")


# ---- probes, metrics, logs -------------------------------------------------------------------------

def test_probes(server):
    r = requests.get(server.url + "/healthz")
    assert r.status_code == 200, r.text
    r = requests.get(server.url + "/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "r": "up", "r_workers": {"ready": 1, "total": 1}, "models": 1,
                        "scan": "complete", "loading": 0}


def test_metrics_count_requests(server):
    for _ in range(3):
        assert requests.post(f"{server.url}/models/good/predict", json=[ROW, ROW]).status_code == 200
    assert requests.post(f"{server.url}/models/good/predict",
                         json=[{**ROW, "cyl": "5"}]).status_code == 422
    assert requests.post(f"{server.url}/models/made-up-name/predict", json=[ROW]).status_code == 404
    r = requests.get(server.url + "/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    samples = parse_metrics(r.text)
    predict = 'endpoint="/models/{name}/predict"'
    assert samples[f'bridge_requests_total{{{predict},model="good",status="200"}}'] >= 3
    assert samples[f'bridge_requests_total{{{predict},model="good",status="422"}}'] >= 1
    # a name nobody serves is not a label value
    assert samples[f'bridge_requests_total{{{predict},model="",status="404"}}'] >= 1
    assert not any("made-up-name" in k for k in samples)
    assert samples['bridge_request_rows_sum{model="good"}'] >= 6
    assert samples[f'bridge_request_duration_seconds_count{{{predict},model="good"}}'] >= 4
    for name in ("tampered.rds", "unlisted.rds", "sidecar_added.rds"):
        assert samples[f'bridge_model_load_failures_total{{file="{name}"}}'] >= 1
    assert "bridge_queue_depth" in samples


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def test_access_log_is_one_json_line_per_request(server):
    secret = "SECRET-VALUE-never-logged"
    r = requests.post(f"{server.url}/models/good/predict", json=[ROW, ROW, ROW],
                      headers={"X-Request-ID": "test-rid-42"})
    assert r.status_code == 200, r.text
    assert r.headers["X-Request-ID"] == "test-rid-42"
    r = requests.post(f"{server.url}/models/good/predict?token={secret}",
                      json=[{**ROW, "cyl": secret}], headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.status_code == 422, r.text
    generated = r.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    # a line is written by the access log's own thread, just after the answer
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
        by_id = {line["request_id"]: line for line in lines}
        if {"test-rid-42", generated} <= set(by_id) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    first = by_id["test-rid-42"]
    assert first["method"] == "POST" and first["path"] == "/models/good/predict"
    assert (first["model"], first["rows"], first["status"]) == ("good", 3, 200)
    assert first["duration_ms"] >= 0 and first["time"].endswith("+00:00")
    assert set(first) == {"time", "request_id", "method", "path", "model", "rows", "status",
                          "duration_ms"}
    assert by_id[generated]["status"] == 422
    assert secret not in server.output()


# ---- in process: readiness states, multiprocess metrics ------------------------------------------

def test_readiness_states(pool, tmp_path):
    from bridge.http.app import create_app
    from bridge.http.health import Readiness
    from bridge.registry import Registry

    readiness = Readiness()
    client = testing.TestClient(create_app(Registry(tmp_path, pool), readiness=readiness))
    r = client.simulate_get("/readyz")
    assert (r.status_code, r.json["status"]) == (503, "starting"), r.text
    assert client.simulate_get("/healthz").status_code == 200
    readiness.set_ready()
    assert client.simulate_get("/readyz").status_code == 200
    readiness.set_draining()
    readiness.set_ready()  # draining is final
    r = client.simulate_get("/readyz")
    assert (r.status_code, r.json["status"]) == (503, "draining"), r.text
    assert r.headers["Retry-After"]
    assert client.simulate_get("/healthz").status_code == 200


def python(code, env, *args):
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_metrics_start_at_zero_and_count_each_event_once(start_server, model_dir):
    """Two R workers, one front: every event counted once; every series there
    from the start (a model's once it loads)."""
    shutil.copy(EXAMPLES / "mtcars_lm.rds", model_dir)
    srv = start_server(model_dir, "--workers", "2", "--reload-interval", "0")
    samples = parse_metrics(requests.get(srv.url + "/metrics").text)
    for key in ('bridge_requests_total{endpoint="/models/{name}/predict",model="mtcars_lm",status="200"}',
                'bridge_r_errors_total{kind="model",model="mtcars_lm"}',
                'bridge_r_workers_replaced_total{reason="timeout"}',
                'bridge_batch_rows_count{model="mtcars_lm"}',
                "bridge_queue_depth"):
        assert samples[key] == 0, key
    assert samples["bridge_r_workers_ready"] == 2
    for _ in range(10):
        requests.post(f"{srv.url}/models/mtcars_lm/predict", json=[ROW]).raise_for_status()
    samples = parse_metrics(requests.get(srv.url + "/metrics").text)
    assert samples['bridge_requests_total{endpoint="/models/{name}/predict",model="mtcars_lm",status="200"}'] == 10
    assert samples['bridge_batch_rows_sum{model="mtcars_lm"}'] == 10


# ---- settings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, value", [("1", True), ("true", True), ("0", False), ("off", False)])
def test_bool_settings(raw, value):
    from bridge.settings import Settings

    assert Settings.from_env({"BRIDGE_REQUIRE_LOCK": raw}).require_lock is value


@pytest.mark.parametrize("env, overrides, fragment", [
    ({"BRIDGE_SHADOW_TIMEOUT": "0"}, {}, "positive number of seconds"),
    ({"BRIDGE_SHADOW_TIMEOUT": "nan"}, {}, "positive number of seconds"),
    ({}, {"shadow_timeout": -1.0}, "positive number of seconds"),
    ({"BRIDGE_PINNED_VERSIONS": "-1"}, {}, "0 or more"),
    ({"BRIDGE_BUFFER_BYTES": "-5"}, {}, "not a size"),
    ({"BRIDGE_WORKER_SPIN": "-0.001"}, {}, "from 0"),
    ({"BRIDGE_WORKER_SPIN": "nan"}, {}, "from 0"),
    ({}, {"worker_spin": 5.0}, "from 0"),
    ({"BRIDGE_BUFFER_BYTES": "lots"}, {}, "not a size"),
])
def test_an_operators_bad_setting_stops_the_start_saying_which(env, overrides, fragment):
    from bridge.settings import Settings

    with pytest.raises(SystemExit, match=fragment):
        Settings.from_env(env, **overrides)


def test_sizes_and_bounds_read_as_written():
    from bridge.settings import Settings

    got = Settings.from_env({"BRIDGE_BUFFER_BYTES": "512K", "BRIDGE_PINNED_VERSIONS": "0",
                             "BRIDGE_SHADOW_TIMEOUT": "2.5", "BRIDGE_WORKER_SPIN": "0"})
    assert (got.buffer_bytes, got.pinned_versions, got.shadow_timeout, got.worker_spin) == \
        (512 * 1024, 0, 2.5, 0.0)


def test_api_key_file(tmp_path):
    from bridge.http.auth import load_keys
    from bridge.settings import Settings

    keys = tmp_path / "keys"
    keys.write_text("# deploy keys\nalpha\n\n  beta  \n")
    settings = Settings.from_env({"BRIDGE_API_KEYS": "gamma,", "BRIDGE_API_KEY_FILE": str(keys)})
    assert sorted(load_keys(settings)) == [b"alpha", b"beta", b"gamma"]


# ---- deploy files ----------------------------------------------------------------------------------

def test_kubernetes_manifest():
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text()) if d]
    kinds = {d["kind"]: d for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= set(kinds)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert "sleep" in " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    assert pod["terminationGracePeriodSeconds"] >= 30
    security = {**pod.get("securityContext", {}), **container["securityContext"]}
    assert security["runAsNonRoot"] is True and security["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/models"]["readOnly"] is True and "/tmp" in mounts
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["BRIDGE_MODELS"] == "/models" and env["BRIDGE_HOST"] == "0.0.0.0"
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == \
        kinds["Deployment"]["metadata"]["name"]
    selector = kinds["Service"]["spec"]["selector"]
    assert selector.items() <= kinds["Deployment"]["spec"]["template"]["metadata"]["labels"].items()


def test_sigterm_mid_request_drains(tmp_path, start_server):
    import signal
    import threading

    started = tmp_path / "predict-started"
    shutil.copy(EXAMPLES / "mtcars_lm.rds", tmp_path / "slow.rds")
    (tmp_path / "slow.R").write_text(
        f'predict_fn <- function(model, newdata, ...) {{ file.create("{started}"); '
        'Sys.sleep(3); predict(model, newdata) }\n')
    srv = start_server(tmp_path)
    started.unlink()  # made by the example prediction at load
    result = {}
    request = threading.Thread(target=lambda: result.update(
        r=requests.post(f"{srv.url}/models/slow/predict", json=[ROW], timeout=60)))
    request.start()
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), srv.output()
    srv.proc.send_signal(signal.SIGTERM)
    r = requests.get(srv.url + "/readyz", timeout=10)
    assert (r.status_code, r.json()["status"]) == (503, "draining"), r.text
    request.join(60)
    assert result["r"].status_code == 200, result["r"].text
    assert srv.proc.wait(timeout=60) == 0

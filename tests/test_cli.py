"""The commands a user runs: inspect, and serve as a real server."""

import json
import shutil
import subprocess
import sys
import time

import requests

from conftest import EXAMPLES, ROOT

CARS = [{"wt": 2.62, "hp": 110, "cyl": "6"}]


def test_inspect_prints_what_was_derived():
    done = subprocess.run([sys.executable, "-m", "bridge", "inspect", str(EXAMPLES / "warpbreaks_ranger.rds")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (model,) = json.loads(done.stdout)
    assert model["name"] == "warpbreaks_ranger" and model["class"] == ["ranger"]
    assert model["inputs"]["source"] == "ptype attribute"
    tension = next(c for c in model["inputs"]["columns"] if c["name"] == "tension")
    assert tension["levels"] == ["L", "M", "H"]


def test_inspect_reports_a_bad_file(tmp_path):
    bad = tmp_path / "bad.rds"
    bad.write_bytes(b"nope")
    done = subprocess.run([sys.executable, "-m", "bridge", "inspect", str(bad)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "could not read" in done.stderr


def wait_for(check, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return False


def test_served_folder_picks_up_new_files_without_restart(start_server, model_dir):
    shutil.copy(EXAMPLES / "mtcars_lm.rds", model_dir)
    server = start_server(model_dir, "--reload-interval", "0.5", env={"BRIDGE_THREADS": "4"})
    resp = requests.post(server.url + "/models/mtcars_lm/predict", json=CARS, timeout=30)
    assert resp.status_code == 200, resp.text

    shutil.copy(EXAMPLES / "iris_rf.rds", model_dir / "flowers.rds")
    assert wait_for(lambda: requests.get(server.url + "/models/flowers", timeout=5).status_code == 200)
    resp = requests.post(server.url + "/models/flowers/predict", timeout=30, json=[
        {"Sepal.Length": 5.1, "Sepal.Width": 3.5, "Petal.Length": 1.4, "Petal.Width": 0.2}])
    assert resp.json()["predictions"] == ["setosa"], resp.text

    (model_dir / "mtcars_lm.rds").unlink()
    assert wait_for(lambda: requests.get(server.url + "/models/mtcars_lm", timeout=5).status_code == 404)

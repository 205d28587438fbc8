"""python -m bench memory: what serving 1, 20 or 100 models costs in memory,
per R worker and in the front.

For each count, real R writes that many small models (bench/memory_models.R:
lm, glm, randomForest and ranger variants, in turn) into a temporary folder
with R's own prediction for one row of each; the bridge serves the folder
with `--workers N`; once /readyz says every file loaded, the memory of the
front and of each worker is read from /proc (RSS, PSS and private bytes:
every worker loads every model, so what one more worker costs is its
private memory); then one request goes to every model, its answer checked
against R's, and the memory is read again.
"""

import concurrent.futures
import dataclasses
import http.client
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from . import load, procs, servers

ROOT = servers.ROOT
MODELS_R = ROOT / "bench" / "memory_models.R"
MB = 2**20


@dataclasses.dataclass
class Point:
    models: int
    workers: int
    rows: int                # training rows per model (0: the data sets as they are)
    file_bytes: int          # the model files on disk
    r_bytes: int             # R's object.size() of the models, summed
    load_seconds: float      # start to /readyz with every file loaded
    after_load: dict         # role -> {"rss", "pss", "private"} bytes
    after_requests: dict     # the same, after one request to every model
    checked: int             # answers checked against R's
    load: tuple              # os.getloadavg() at the end


def say(*parts):
    print("[bench memory]", *parts, file=sys.stderr, flush=True)


def generate(folder, count, rows=0):
    """count models in folder/models -> {name: {kind, row, prediction, r_bytes}};
    rows > 0: each trained on that many rows (larger objects)."""
    models, expected = Path(folder) / "models", Path(folder) / "expected.json"
    subprocess.run(["Rscript", str(MODELS_R), str(models), str(count), str(expected), str(rows)],
                   check=True, capture_output=True, timeout=600)
    return models, orjson.loads(expected.read_bytes())


def snapshot(front_pid):
    out = {"front": procs.memory(front_pid)}
    for i, pid in enumerate(procs.children(front_pid)):
        out[f"worker {i}"] = procs.memory(pid)
    return out


def measure(count, workers, out_dir, rows=0, keep=False):
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-memory-{count}-"))
    try:
        models, expected = generate(tmp, count, rows)
        first = next(iter(expected))
        probe = orjson.dumps([expected[first]["row"]])
        server = servers.bridge(models, Path(out_dir) / f"memory-{count}", workers,
                                model_name=first)
        t0 = time.monotonic()
        with server.start(probe):
            servers.wait_ready(server.port, models=count)
            load_seconds = time.monotonic() - t0
            time.sleep(1)  # let the workers' catch-up settle
            after_load = snapshot(server.proc.pid)
            checked = ask_each(server.port, expected, workers)
            after_requests = snapshot(server.proc.pid)
        return Point(models=count, workers=workers, rows=rows,
                     file_bytes=sum(f.stat().st_size for f in models.iterdir()),
                     r_bytes=int(sum(e["r_bytes"] for e in expected.values())),
                     load_seconds=load_seconds, after_load=after_load,
                     after_requests=after_requests, checked=checked, load=os.getloadavg())
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def ask_each(port, expected, workers):
    """`workers` clients at once, each asking every model once (in turn from
    a different start), so the workers share the calls and most likely each
    has run most models; every answer is checked against R's."""
    names = list(expected)

    def client(k):
        conn = http.client.HTTPConnection(servers.HOST, port, timeout=60)
        shift = k * len(names) // max(workers, 1)
        try:
            for name in names[shift:] + names[:shift]:
                e = expected[name]
                conn.request("POST", f"/models/{name}/predict", body=orjson.dumps([e["row"]]),
                             headers=load.JSON)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    raise load.LoadError(f"{name}: {response.status} {data[:300]!r}")
                got = orjson.loads(data)["predictions"]
                if not _same(got, e["prediction"]):
                    raise load.LoadError(f"{name}: the bridge says {got}, R says "
                                         f"{e['prediction']}")
        finally:
            conn.close()
        return len(names)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(client, range(workers)))


def _same(got, want):
    if len(got) != 1:
        return False
    if isinstance(want, str):
        return got[0] == want
    return isinstance(got[0], float) and math.isclose(got[0], want, rel_tol=1e-9)


def run(counts=(1, 20, 100), workers=2, out_dir=ROOT / "bench" / "out", rows=0):
    points = []
    for count in counts:
        say(f"{count} model(s), --workers {workers}" + (f", {rows} training rows" if rows else ""))
        point = measure(count, workers, out_dir, rows)
        say(f"  loaded in {point.load_seconds:.1f} s; " + ", ".join(
            f"{role} RSS {m['rss'] / MB:.0f} MB private {m['private'] / MB:.0f} MB"
            for role, m in point.after_requests.items()))
        points.append(point)
    return points


def table(points):
    lines = ["| models | training rows | files on disk | R object.size | load s | process | RSS after load MB "
             "| RSS after a request to each MB | PSS MB | private MB | load (1 min) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in points:
        for role, after in p.after_requests.items():
            before = p.after_load.get(role) or {}
            lines.append(
                f"| {p.models} | {p.rows or 'as is'} | {p.file_bytes / MB:.2f} MB | {p.r_bytes / MB:.1f} MB "
                f"| {p.load_seconds:.1f} | {role} | {before.get('rss', 0) / MB:.1f} "
                f"| {after['rss'] / MB:.1f} | {after['pss'] / MB:.1f} "
                f"| {after['private'] / MB:.1f} | {p.load[0]:.2f} |")
    return "\n".join(lines) + "\n"


def write(points, out_dir, name="memory"):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = table(points)
    (out_dir / f"{name}.md").write_text(text)
    (out_dir / f"{name}.json").write_text(
        orjson.dumps([dataclasses.asdict(p) for p in points], option=orjson.OPT_INDENT_2).decode())
    return text

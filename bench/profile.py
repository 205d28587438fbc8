"""py-spy on a bridge under load: where a request's time goes.

Writes to bench/out/: profile-<load>.svg (flamegraph), profile-<load>.txt
(py-spy's collapsed stacks) and profile-<load>-summary.txt (shares per
process and thread, and the functions with the most samples, self and total).
"""

import collections
import concurrent.futures
import linecache
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import load, servers
from .run import say
from .workload import Workload

ROOT = servers.ROOT


def profile(model, out_dir, workers=2, load="single", seconds=15, rate=100, native=False):
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install -r bench/requirements.txt")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Workload.make(100_000 if load == "bulk" else 1)
    stop = threading.Event()
    bridge = None
    try:
        bridge, note = servers.start_bridge(Path(model).parent, out_dir, workers, work.single)
        if note:
            say("NOTE:", note)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # Load for both recordings and a margin; stopped early when they are done.
            loading = pool.submit(_load, bridge, work, load, 2 * seconds + 10, stop)
            time.sleep(2)
            base = out_dir / f"profile-{load}"
            common = [spy, "record", "--pid", str(bridge.proc.pid), "--subprocesses",
                      "--rate", str(rate), "--duration", str(seconds)]
            if native:
                common.append("--native")
            say(f"py-spy: {seconds}s of collapsed stacks, then {seconds}s for the flamegraph")
            _spy(common + ["--threads", "--format", "raw", "--output", f"{base}.txt"])
            _spy(common + ["--format", "flamegraph", "--output", f"{base}.svg"])
            stop.set()
            requests = loading.result()
        summary = summarize(Path(f"{base}.txt").read_text(), seconds, rate)
        header = (f"bridge --workers {workers}, load: {load} ({requests} requests during "
                  f"the recordings), py-spy --rate {rate}{' --native' if native else ''}, "
                  "idle threads not sampled\n\n")
        Path(f"{base}-summary.txt").write_text(header + summary)
        print(header + summary)
        say(f"wrote {base}.svg, {base}.txt, {base}-summary.txt")
    finally:
        stop.set()
        if bridge is not None:
            bridge.stop()
    return 0


def _spy(argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")


def _load(bridge, work, kind, seconds, stop):
    """Requests until stop is set or seconds pass; -> how many were served."""
    if kind == "single":
        # wrk cannot be told to stop early; it is bounded by its duration.
        return load.wrk(bridge.url, work.single, duration=seconds).requests
    body, served, deadline = work.json_rows(), 0, time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        load.bulk(bridge.port, bridge.predict_path, body, len(work.rows), runs=1)
        served += 1
    return served


_FRAME_LINE = re.compile(r":\d+\)$")
# Leaf frames of a thread that waits rather than works. py-spy's own idle
# detection lets many of these through, so they are set apart here.
# A sample is a wait when the innermost Python frame is on a blocking call
# (read from the source line: a C call such as SimpleQueue.get has no frame
# of its own), or, with --native, when a C frame is a known blocking call.
WAIT_CALL = re.compile(r"\.(get|wait|acquire|join|sleep|select|poll)\(|\bsleep\(")
WAIT_NATIVE = ("PyThread_acquire_lock_timed", "time_sleep", "select_poll", "select_epoll",
               "epoll_wait", "pthread_cond_wait", "pthread_cond_timedwait")
# Frames under every thread or the main module; they say nothing in "total".
BOILERPLATE = ("Thread.run (", "Thread._bootstrap", "_run_code (", "_run_module_as_main (",
               "<module> (")


def summarize(collapsed, seconds, rate, top=20):
    """Text summary of py-spy's raw output (`frame;frame;... count` per line,
    outermost first, process and thread frames in front): per thread group
    how busy it was, then where the busy samples are, overall and in the R
    thread (which every R call goes through)."""
    threads = collections.defaultdict(lambda: [set(), 0, 0])  # group -> [ids, samples, busy]
    self_time, inclusive, r_self = (collections.Counter() for _ in range(3))
    busy_total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        count = int(count)
        frames = stack.split(";")
        # With --subprocesses, a worker's stacks start "process ARBITER;process WORKER".
        process = ([f for f in frames if f.startswith("process ")] or [""])[-1]
        thread = next((f for f in frames if f.startswith("thread ")), "thread ?")
        raw = [f for f in frames if not f.startswith(("process ", "thread "))]
        code = [_short(f) for f in raw]
        group = _thread_group(process, thread)
        threads[group][0].add((process, thread))
        threads[group][1] += count
        if not code or _is_wait(raw):
            continue
        threads[group][2] += count
        busy_total += count
        self_time[code[-1]] += count
        for frame in set(code):
            if not frame.startswith(BOILERPLATE):
                inclusive[frame] += count
        if group.endswith("r-session"):
            r_self[code[-1]] += count
    if not busy_total:
        return "no busy samples (was the bridge loaded?)\n"

    # py-spy falls behind its rate on a loaded machine, so shares are of the
    # samples taken, not of seconds * rate.
    lines = [f"{busy_total} busy samples (not blocked in a wait: queue get, lock, sleep, "
             f"poll), recorded {seconds} s at up to {rate}/s", "",
             "thread group: threads, busy samples of all its samples"]
    for group, (ids, samples, busy) in sorted(threads.items(), key=lambda kv: -kv[1][2]):
        lines.append(f"  {group}: {len(ids)} thread(s), {busy} busy of {samples} "
                     f"({100 * busy / samples:.0f}%)")
    lines.append("")

    def table(title, counter, of):
        out = [title]
        for name, n in counter.most_common(top):
            out.append(f"  {100 * n / of:5.1f}%  {name}")
        return out + [""]

    r_busy = sum(r_self.values())
    lines += table("self, share of busy samples (the frame on top of the stack):",
                   self_time, busy_total)
    lines += table("total, share of busy samples (the frame anywhere in the stack):",
                   inclusive, busy_total)
    if r_busy:
        lines += table(f"the R thread alone ({r_busy} busy samples), self:", r_self, r_busy)
    return "\n".join(lines) + "\n"


def _is_wait(raw):
    if any(f.startswith(WAIT_NATIVE) for f in raw):
        return True
    leaf = re.search(r"\((.+\.py):(\d+)\)$", raw[-1])
    if leaf is None:  # a C frame (--native) that is not a known wait
        return False
    return bool(WAIT_CALL.search(linecache.getline(leaf.group(1), int(leaf.group(2)))))


def _thread_group(process, thread):
    """'process 12:"python -m bridge ..."', 'thread (34): waitress-3'
    -> 'pid 12 waitress-*'."""
    pid = process.split(":", 1)[0].replace("process ", "pid ") if process else ""
    name = thread.split(": ", 1)[1] if ": " in thread else thread
    name = re.sub(r"-[\d_]+$", "-*", name)  # waitress-3, ThreadPoolExecutor-1_0
    return f"{pid} {name}".strip()


def _short(frame):
    """'fn (/long/path/site-packages/pkg/mod.py:12)' -> 'fn (pkg/mod.py)'."""
    frame = _FRAME_LINE.sub(")", frame)
    frame = re.sub(r"\(.*/site-packages/", "(", frame)
    return frame.replace(f"({ROOT}/", "(")

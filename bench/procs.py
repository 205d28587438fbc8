"""Resident memory of a server's processes, read from /proc (Linux only, as
are wrk and py-spy)."""

import os


def children(pid):
    """Direct and indirect child pids of pid, found by each process's ppid."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited while we looked
        # The command name is in parentheses and may hold spaces: split after it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        kids = sorted(parents.get(todo.pop(), []))
        found.extend(kids)
        todo.extend(kids)
    return found


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def snapshot(pid):
    """{pid: rss} of the server: its worker processes if it has children
    (a supervisor and its workers), else the one process that serves."""
    kids = children(pid)
    workers = kids or [pid]
    return {p: rss_bytes(p) for p in workers if rss_bytes(p) is not None}


def memory(pid):
    """{"rss", "pss", "private"} bytes of one process, from smaps_rollup:
    rss counts shared pages (libR, the Python and R libraries) in full in
    every process, pss splits them between the processes that map them,
    private is what only this process holds (what one more worker adds)."""
    fields = {"Rss:": "rss", "Pss:": "pss", "Private_Clean:": "private",
              "Private_Dirty:": "private"}
    out = {"rss": 0, "pss": 0, "private": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(" ")
                if key in fields:
                    out[fields[key]] += int(rest.split()[0]) * 1024
    except OSError:
        return None
    return out

"""Per-column summaries and how far apart two of them are (shared code: an
R worker summarises a model's reference at load, the front its live inputs).

A summary is plain data (it crosses the worker's pipe and goes out as JSON):
  numbers: {"type": "number", "n", "missing", "edges", "counts", "quantiles"}
           edges: the reference's deciles (bins of ~10% each), so a live
           summary is counted in the same bins; quantiles: 0..100 %.
  levels:  {"type": "levels", "n", "missing", "counts": {label: count}}
           (from a ptype only: the labels with count None: types, no distribution)
"""

import math

import numpy as np

NUMBER_KINDS = frozenset(("numeric", "integer", "Date", "POSIXct"))
BINS = 10
MAX_LEVELS = 200   # a column of more labels keeps its most frequent; the rest count as OTHER
OTHER = "(other)"
EPS = 1e-4  # a bin empty on one side counts as this share (PSI stays finite)


def is_number(kind):
    return kind in NUMBER_KINDS


def summarize(kind, values, edges=None, known=None):
    """A summary of one column: `values` a float array (NaN: missing) for
    numbers, a sequence of labels (None: missing) otherwise. `edges` / `known`:
    count in these bins / levels (a live summary against its reference's)."""
    if is_number(kind):
        return _numbers(np.asarray(values, dtype=np.float64), edges)
    return _levels(values, known)


def _numbers(values, edges):
    n = len(values)
    ok = values[~np.isnan(values)]
    missing = (n - len(ok)) / n if n else 0.0
    if edges is None:
        edges = _edges(ok)
    counts = _bin(ok, edges) if edges else []
    quantiles = np.quantile(ok, np.linspace(0, 1, 101)).tolist() if len(ok) else []
    return {"type": "number", "n": n, "missing": missing, "edges": list(edges),
            "counts": counts, "quantiles": quantiles}


def _edges(ok):
    """Inner bin edges: the distinct deciles (a column of few values gets fewer bins)."""
    if not len(ok):
        return []
    inner = np.unique(np.quantile(ok, np.linspace(0, 1, BINS + 1)[1:-1]))
    return [float(x) for x in inner]


def _bin(ok, edges):
    # bin i holds edges[i-1] < x <= edges[i]; the first and last are open-ended
    return np.bincount(np.searchsorted(edges, ok, side="left"),
                       minlength=len(edges) + 1).tolist()


def _levels(values, known=None):
    n = len(values)
    counts = {}
    missing = 0
    for v in values:
        if v is None:
            missing += 1
        else:
            counts[v] = counts.get(v, 0) + 1
    return levels_from_counts(n, missing, counts, known)


def levels_from_counts(n, missing, counts, known=None):
    """A labels summary from `n` values, `missing` of them NA, and the others'
    `counts` ({label: count}, in order of first appearance). `known`: count
    only these labels, the others as OTHER (a live summary against its
    reference's levels, so both have the same bins)."""
    if known is not None:
        kept = {k: c for k, c in counts.items() if k in known}
        other = n - missing - sum(kept.values())
        counts = {**kept, **({OTHER: other} if other else {})}
    elif len(counts) > MAX_LEVELS:
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_LEVELS]
        other = n - missing - sum(c for _, c in top)
        counts = {**dict(top), OTHER: other}
    return {"type": "levels", "n": n, "missing": missing / n if n else 0.0, "counts": counts}


def declared(kind, levels=()):
    """What a ptype alone tells: the type, and the levels with no counts."""
    if is_number(kind):
        return {"type": "number", "n": 0, "missing": None, "edges": [], "counts": [],
                "quantiles": []}
    return {"type": "levels", "n": 0, "missing": None, "counts": {lev: None for lev in levels}}


def has_distribution(summary):
    return bool(summary and summary.get("n"))


# ---- comparing -------------------------------------------------------------------

def psi(reference, live):
    """Population stability index of `live` against `reference` (same type,
    live counted in the reference's bins); None when either has no values.
    A missing value is a bin of its own, so a column that goes missing drifts."""
    if not has_distribution(reference) or not has_distribution(live):
        return None
    if reference["type"] == "number":
        ref = list(reference["counts"]) + [reference["missing"] * reference["n"]]
        got = list(live["counts"]) + [live["missing"] * live["n"]]
    else:
        labels = sorted(set(reference["counts"]) | set(live["counts"]))
        ref = [reference["counts"].get(k) or 0 for k in labels] + [reference["missing"] * reference["n"]]
        got = [live["counts"].get(k, 0) for k in labels] + [live["missing"] * live["n"]]
    p, q = _shares(ref), _shares(got)
    return float(sum((b - a) * math.log(b / a) for a, b in zip(p, q)))


def _shares(counts):
    total = float(sum(counts))
    return [max(c / total, EPS) for c in counts]


def ks(reference, values):
    """Kolmogorov-Smirnov statistic of live numbers against the reference's
    percentiles: max |F_live - F_ref|, both sides of every jump. F_ref is
    interpolated between percentiles, and a step where several percentiles
    are one value (a discrete column: counts, codes), so ties are not drift."""
    q = reference.get("quantiles") if reference else None
    x = np.sort(np.asarray(values, dtype=np.float64))
    x = x[~np.isnan(x)]
    if not q or not len(x):
        return None
    q = np.asarray(q, dtype=np.float64)
    grid = np.linspace(0, 1, len(q))
    u = np.unique(np.concatenate([x, q]))
    left, right = np.searchsorted(q, u, "left"), np.searchsorted(q, u, "right")
    smooth = np.interp(u, q, grid, left=0.0, right=1.0)
    tie = right - left >= 2
    f_at = np.where(tie, grid[np.maximum(right - 1, 0)], smooth)
    f_before = np.where(tie, np.where(left > 0, grid[np.maximum(left - 1, 0)], 0.0), smooth)
    n = len(x)
    live_at = np.searchsorted(x, u, "right") / n
    live_before = np.searchsorted(x, u, "left") / n
    return float(max(np.abs(live_at - f_at).max(), np.abs(live_before - f_before).max()))


def unseen(reference, live):
    """Share of live values whose label the reference never had (None when
    the reference kept only its most frequent labels: it cannot tell)."""
    if not reference or reference["type"] != "levels" or not has_distribution(live):
        return None
    known = set(reference["counts"])
    if not known or OTHER in known:
        return None
    new = sum(c for k, c in live["counts"].items() if k not in known)
    return new / live["n"]

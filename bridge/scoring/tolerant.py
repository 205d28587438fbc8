"""Rows that fail: with `--on-error skip` or `reject`, a chunk is scored
with the rows that do not fit the model (or fail in R) set aside, each with
R's reason; `reject_rows` writes them as they were read.
"""

import re

from .files import ScoringError


ON_ERROR = ("stop", "skip", "reject")


def _is_row_error(exc):
    """An error a row of the input can cause (it does not fit the model, or
    R fails on it), as opposed to one about the run (no server, timeout,
    overload, wrong key, unknown model)."""
    status = getattr(exc, "status", None)
    if status in (400, 422):
        return True
    return status == 500 and (getattr(exc, "title", "") == "Model failed")


def _error_row(exc):
    """The 1-based row of the scored rows an error names, if any."""
    details = getattr(exc, "details", None) or getattr(exc, "body", None) or {}
    row = details.get("row") if isinstance(details, dict) else None
    return row if isinstance(row, int) else None


def score_tolerantly(scorer, chunk, args):
    """(scored row positions, prediction columns, [(position, reason)]) for
    a chunk: rows that fail alone are set aside with R's reason, the others
    scored. An error that names its row sets that row aside at once;
    otherwise the rows are halved until the failing ones are alone."""
    rejected = []
    pending = [list(range(len(chunk.frame)))]
    done = {}
    while pending:
        positions = pending.pop()
        if not positions:
            continue
        part = chunk.subset(positions)
        try:
            done[positions[0]] = (positions, scorer.score(part, args))
            continue
        except Exception as exc:  # noqa: BLE001 -- sorted below: only row errors are set aside
            if not _is_row_error(exc):
                raise
            error = exc
        named = _error_row(error)
        if named is not None and 1 <= named <= len(positions):
            bad = positions[named - 1]
            # The row it names counts in the part scored; the reject file has the input's.
            rejected.append((bad, re.sub(r",? ?\brow \d+", "", error.description, count=1)))
            pending.append([p for p in positions if p != bad])
        elif len(positions) == 1:
            rejected.append((positions[0], error.description))
        else:
            half = len(positions) // 2
            pending += [positions[half:], positions[:half]]
    kept, columns = [], {}
    for start in sorted(done):
        positions, cols = done[start]
        kept += positions
        for name, values in cols.items():
            columns.setdefault(name, []).extend(values)
    # Parts scored separately may name their outputs differently (a class
    # no row of a part predicts): a missing output is NA in that part.
    if any(len(v) != len(kept) for v in columns.values()):
        raise ScoringError("the parts of a chunk predicted different outputs; use --on-error stop")
    return kept, columns, sorted(rejected)


def reject_rows(frame, failed, before):
    """The rejected rows as they were read, after their row number in the
    input (1 = the first data row) and the reason."""
    import pandas as pd

    bad = frame.iloc[[p for p, _ in failed]].reset_index(drop=True)
    meta = {}
    for name, values in (("row", [before + p + 1 for p, _ in failed]),
                         ("reason", [why for _, why in failed])):
        while name in bad.columns:
            name = f"reject_{name}"
        meta[name] = values
    return pd.concat([pd.DataFrame(meta), bad], axis=1)

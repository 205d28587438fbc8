"""The run loop: an input file scored chunk by chunk into the output.

The output (and the reject file) is written under a `.partial` name and
renamed only once every row is done; a checkpoint after each chunk lets
`--resume` carry on. Runs in the `bridge predict` process.
"""

import json
import os
import re
import sys
from pathlib import Path

from .files import ScoringError, file_format
from .readers import Chunk, read_csv, read_json, read_parquet
from .tolerant import ON_ERROR, reject_rows, score_tolerantly
from .writers import labelled, writer_for


class Summary:
    def __init__(self):
        self.rows = 0        # rows written to the output
        self.rejected = 0    # rows set aside (skipped or written to the reject file)
        self.first_reason = None


def _identity(path):
    st = os.stat(path)
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_json_atomic(path, doc):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def partial_paths(output_path):
    """Where a run writes before its output is complete, and its checkpoint."""
    output = Path(output_path)
    return output.with_name(output.name + ".partial"), output.with_name(output.name + ".checkpoint.json")


def score_file(scorer, input_path, output_path, chunk_size=10_000, args=None, progress=None, **kwargs):
    """Scores input_path into output_path; returns the number of rows written."""
    return run(scorer, input_path, output_path, chunk_size, args, progress, **kwargs).rows


def run(scorer, input_path, output_path, chunk_size=10_000, args=None, progress=None,
        on_error="stop", reject_path=None, resume=False):
    """Scores input_path into output_path, chunk by chunk.

    The output (and the reject file) is written under a `.partial` name and
    renamed only once every row is done, so a file under the output's name
    is always complete. After each chunk a checkpoint records how far the
    run got; `resume=True` continues from it (the input file, arguments,
    model and chunk size must be the ones it was started with).
    """
    from ..client import BridgeClientError
    from ..errors import BridgeError

    if on_error not in ON_ERROR:
        raise ScoringError(f"--on-error {on_error!r}: use one of {', '.join(ON_ERROR)}")
    if reject_path and on_error != "reject":
        raise ScoringError("--reject-file goes with --on-error reject")
    if on_error == "reject" and not reject_path:
        raise ScoringError("--on-error reject needs --reject-file FILE")
    args = args or {}
    in_fmt = file_format(input_path)
    out_fmt = file_format(output_path)
    rej_fmt = file_format(reject_path) if reject_path else None
    partial, checkpoint_path = partial_paths(output_path)
    reject_partial = partial_paths(reject_path)[0] if reject_path else None
    run_id = {"input": _identity(input_path), "args": args,
              "model": getattr(scorer, "identity", type(scorer).__name__),
              "chunk_size": chunk_size, "on_error": on_error,
              "reject_file": str(Path(reject_path).resolve()) if reject_path else ""}
    state = _resume_state(checkpoint_path, run_id, partial) if resume else None
    if state is None:
        checkpoint_path.unlink(missing_ok=True)
    else:
        _truncate(partial, state["output_state"])
        if reject_partial is not None:
            _truncate(reject_partial, state["reject_state"])
    summary = Summary()
    done_rows = state["rows_read"] if state else 0
    if state:
        summary.rows, summary.rejected = state["rows_written"], state["rows_rejected"]
    bar = _progress(input_path, in_fmt, progress)
    fh = None
    if in_fmt == "csv":
        fh = open(input_path, "rb")
        chunks = read_csv(fh, chunk_size)
    elif in_fmt in ("json", "jsonl"):
        fh = open(input_path, "r", encoding="utf-8-sig")
        chunks = read_json(fh, chunk_size)
    else:
        chunks = read_parquet(input_path, chunk_size)
    writer = writer_for(partial, out_fmt, state and state["output_state"])
    rejects = writer_for(reject_partial, rej_fmt, state and state["reject_state"]) if reject_path else None
    rows_read, progress_at, complete = 0, 0, False
    try:
        for chunk in chunks:
            frame = chunk.frame.reset_index(drop=True)
            chunk = Chunk(frame, chunk.text)
            if rows_read + len(frame) <= done_rows:  # done before the run was interrupted
                rows_read += len(frame)
                continue
            if rows_read < done_rows:
                chunk = chunk.subset(list(range(done_rows - rows_read, len(frame))))
                rows_read = done_rows
                frame = chunk.frame
            try:
                if on_error == "stop":
                    kept, columns, failed = list(range(len(frame))), scorer.score(chunk, args), []
                else:
                    kept, columns, failed = score_tolerantly(scorer, chunk, args)
            except (BridgeError, BridgeClientError) as exc:
                raise ScoringError(f"{input_path}: {_file_rows(exc, rows_read)}") from exc
            if kept:
                scored = frame.iloc[kept].reset_index(drop=True)
                writer.write(scored, labelled(scored, columns))
            if failed:
                summary.first_reason = summary.first_reason or \
                    f"row {rows_read + failed[0][0] + 1:,}: {failed[0][1]}"
                if rejects is not None:
                    rejects.write(reject_rows(frame, failed, rows_read), {})
            summary.rows += len(kept)
            summary.rejected += len(failed)
            rows_read += len(frame)
            _write_json_atomic(checkpoint_path, {
                **run_id, "rows_read": rows_read, "rows_written": summary.rows,
                "rows_rejected": summary.rejected, "output_state": writer.checkpoint(),
                "reject_state": rejects.checkpoint() if rejects is not None else None})
            if bar is not None:
                now = fh.tell() if fh is not None else rows_read
                bar.update(now - progress_at)
                progress_at = now
                bar.set_postfix(rows=f"{rows_read:,}")
        complete = True
    finally:
        writer.close(complete)
        if rejects is not None:
            rejects.close(complete)
        if fh is not None:
            fh.close()
        if bar is not None:
            bar.close()
    # Only now does the output appear under its name: complete or not at all.
    os.replace(partial, output_path)
    if reject_path:
        os.replace(reject_partial, reject_path)
    checkpoint_path.unlink(missing_ok=True)
    return summary


def _resume_state(checkpoint_path, run_id, partial):
    if not checkpoint_path.is_file():
        return None  # nothing to resume: a fresh run
    state = json.loads(checkpoint_path.read_text(encoding="utf-8"))
    changed = [k for k in run_id if state.get(k) != run_id[k]]
    if changed:
        raise ScoringError(f"cannot resume: {', '.join(changed)} changed since the interrupted run "
                           f"(checkpoint {checkpoint_path.name}); run without --resume to start over")
    if not (partial.exists() or Path(str(partial) + ".d").is_dir()):
        raise ScoringError(f"cannot resume: {partial.name} is gone; run without --resume to start over")
    return state


def _truncate(path, state):
    """Cuts what was written after the last checkpoint (a chunk cut short)."""
    if path is not None and state and "bytes" in state and Path(path).exists():
        with open(path, "r+b") as fh:
            fh.truncate(state["bytes"])


def _file_rows(exc, before):
    """The error's message with its row counted from the file's start, not the chunk's."""
    details = getattr(exc, "details", None) or getattr(exc, "body", None) or {}
    if not isinstance(details.get("row"), int):
        return exc.description
    return re.sub(r"\brow (\d+)", lambda m: f"row {before + int(m.group(1)):,}",
                  exc.description, count=1)


def _progress(path, fmt, enabled):
    if enabled is False:
        return None
    from tqdm import tqdm

    if fmt == "parquet":
        import pyarrow.parquet as pq

        total, unit, scale = pq.ParquetFile(path).metadata.num_rows, "rows", False
    else:
        total, unit, scale = os.path.getsize(path), "B", True
    # disable=None: shown on a terminal, silent in logs and pipes.
    return tqdm(total=total, unit=unit, unit_scale=scale, file=sys.stderr,
                disable=None if enabled is None else not enabled, desc=Path(path).name)

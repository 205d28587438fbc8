"""Batch scoring: a file of rows in, the same rows with R's predictions out.

    python -m bridge predict MODEL INPUT -o OUTPUT [--arg type=response]

MODEL is a model file (scored in this process's own R) or a served model,
`http://host:port/models/NAME` (or `--url URL NAME`). INPUT is CSV, JSON
(lines, or one array of row objects) or Parquet; OUTPUT's extension picks its
format (.csv, .json, .jsonl, .parquet), by default INPUT's.

The file is read, scored and written chunk by chunk (10,000 rows by default),
so memory stays flat however large the file. The output is written under
OUTPUT.partial and renamed when every row is done: a file under OUTPUT's
name is complete. A row that does not fit the model stops the run
(`--on-error stop`), or is skipped, or rejected into `--reject-file` with
its row number and reason; `--resume` continues a run that stopped, from
the checkpoint written after each chunk. CSV is read as text and each
column parsed by the model's own type rules, exactly as the HTTP endpoint
reads a CSV body; CSV output keeps the input text and appends the
prediction column(s), written as the endpoint's `Accept: text/csv` does.
"""

import json
import os
import re
import shutil
import sys
import urllib.parse
from pathlib import Path

import orjson

from .formats.csv_text import query_args
from .render import csv_cell
from .table import Table

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}


class BatchError(Exception):
    pass


def file_format(path):
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise BatchError(f"{path}: unknown file type; use one of {', '.join(sorted(FORMATS))}")
    return fmt


# ---- scoring: a local model file or a served model ---------------------------------

class LocalScorer:
    """A model file scored in this process's R, through the same service as
    a server's calls (bridge/service: checks, observers), with protocol "cli"."""

    def __init__(self, path, object_name=None):
        from .r.model import load_model
        from .service import LocalCatalog, Service

        self.model = load_model(path, object=object_name)
        self.service = Service(LocalCatalog([self.model]))
        self.identity = f"{Path(path).resolve()}:{object_name or ''}"

    def score(self, chunk, args):
        from .service import Context

        # No server's per-request timeout here: a chunk takes what R needs.
        answer = self.service.predict(self.model.name, chunk.table(), args,
                                      Context("cli", "bridge predict"))
        return answer.result.columns


class RemoteScorer:
    def __init__(self, url, name, api_key=None):
        from .client import Client

        self.client = Client(url, api_key=api_key)
        self.name = name
        self.identity = f"{self.client.url}/models/{name}"
        self.client.describe(name)  # fail now, not after the first chunk

    def score(self, chunk, args):
        if chunk.text:
            # CSV goes as CSV, so the server reads each column by the same text rules.
            predictions = self.client.predict_raw(
                self.name, chunk.frame.to_csv(index=False).encode("utf-8"), "text/csv", args)
        else:
            predictions = self.client.predict_raw(self.name, {"data": chunk.rows(), "args": args})
        return prediction_columns(predictions)


def prediction_columns(predictions):
    """The server's JSON predictions back as columns, as Prediction.columns."""
    if predictions and isinstance(predictions[0], dict):
        names = list(predictions[0])
        return {n: [p.get(n) for p in predictions] for n in names}
    return {"prediction": list(predictions)}


def scorer_for(model, url=None, object_name=None, api_key=None):
    if url:
        return RemoteScorer(url, model, api_key)
    parsed = urllib.parse.urlparse(model)
    if parsed.scheme in ("http", "https"):
        head, sep, name = parsed.path.rstrip("/").rpartition("/models/")
        if not sep or not name or "/" in name:
            raise BatchError(f"{model}: expected a URL like http://host:8080/models/NAME")
        base = urllib.parse.urlunparse(parsed._replace(path=head, query="", fragment=""))
        return RemoteScorer(base, urllib.parse.unquote(name), api_key)
    if not Path(model).is_file():
        raise BatchError(f"{model}: no such model file (or give a URL: http://host:port/models/NAME)")
    return LocalScorer(model, object_name)


# ---- reading in chunks -------------------------------------------------------------

class Chunk:
    """Rows of the input: a DataFrame, all text when read from CSV."""

    def __init__(self, frame, text):
        self.frame = frame
        self.text = text

    def table(self):
        if self.text:
            return Table({str(c): self.frame[c].tolist() for c in self.frame.columns},
                         len(self.frame), text=True)
        return Table.from_pandas(self.frame)

    def rows(self):
        return Table.from_pandas(self.frame).columns

    def subset(self, positions):
        return Chunk(self.frame.iloc[positions].reset_index(drop=True), self.text)


def read_csv(fh, chunk_size):
    import pandas as pd

    # Every value as text ("" included), parsed later by the model's column types.
    reader = pd.read_csv(fh, dtype=str, keep_default_na=False, na_filter=False,
                         chunksize=chunk_size, encoding="utf-8-sig")
    for frame in reader:
        yield Chunk(frame, text=True)


def read_json(fh, chunk_size):
    import pandas as pd

    rows = []
    for row in iter_json_rows(fh):
        if not isinstance(row, dict):
            raise BatchError(f"row {len(rows) + 1} of a chunk is not a JSON object")
        rows.append(row)
        if len(rows) == chunk_size:
            yield Chunk(pd.DataFrame.from_records(rows), text=False)
            rows = []
    if rows:
        yield Chunk(pd.DataFrame.from_records(rows), text=False)


def iter_json_rows(fh, block=1 << 16):
    """Row objects from JSON lines or from one JSON array, read a block at a time."""
    first = fh.read(1)
    while first and first.isspace():
        first = fh.read(1)
    if first != "[":
        line = first + fh.readline()
        while line:
            if line.strip():
                yield orjson.loads(line)
            line = fh.readline()
        return
    decoder = json.JSONDecoder()
    buf, pos, done = "", 0, False
    while True:
        # Skip separators; stop at the closing bracket.
        while True:
            while pos < len(buf) and (buf[pos].isspace() or buf[pos] == ","):
                pos += 1
            if pos < len(buf) or done:
                break
            buf, pos = fh.read(block), 0
            done = not buf
        if pos >= len(buf) or buf[pos] == "]":
            return
        try:
            value, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError:
            more = fh.read(block)
            if not more:
                raise BatchError("the JSON array ends in the middle of a row")
            buf, pos = buf[pos:] + more, 0
            continue
        if end == len(buf) and not done:
            # A number at the end of the buffer may go on in the next block.
            more = fh.read(block)
            if more:
                buf, pos = buf[pos:] + more, 0
                continue
        yield value
        pos = end


def read_parquet(path, chunk_size):
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
        yield Chunk(batch.to_pandas(), text=False)


# ---- writing as we go -------------------------------------------------------------

def labelled(frame, columns):
    """Prediction columns named so they do not clash with the input's."""
    taken = set(map(str, frame.columns))
    out = {}
    for name, values in columns.items():
        label = name
        while label in taken:
            label = f"prediction_{label}"
        taken.add(label)
        out[label] = values
    return out


class CsvWriter:
    def __init__(self, path, state=None):
        self.path = path
        self.fh = open(path, "a" if state else "w", encoding="utf-8", newline="")
        self.header = not (state or {}).get("started")

    def write(self, frame, columns):
        import pandas as pd

        # R's spelling for predictions (NA, TRUE), as `Accept: text/csv` gives.
        text = pd.DataFrame({n: [csv_cell(v) for v in vals] for n, vals in columns.items()},
                            index=frame.index, dtype=object)
        frame.join(text).to_csv(self.fh, index=False, header=self.header, na_rep="NA",
                                lineterminator="\n")
        self.header = False

    def checkpoint(self):
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return {"started": not self.header, "bytes": self.fh.tell()}

    def close(self):
        self.fh.close()


class JsonWriter:
    def __init__(self, path, array, state=None):
        self.path = path
        self.fh = open(path, "ab" if state else "wb")
        self.array = array
        self.first = not (state or {}).get("started")
        if array and not state:
            self.fh.write(b"[")

    def write(self, frame, columns):
        both = frame.assign(**columns)
        records = both.astype(object).where(both.notna(), None).to_dict(orient="records")
        for record in records:
            if self.array:
                self.fh.write(b"\n" if self.first else b",\n")
            self.fh.write(orjson.dumps(record, default=str, option=orjson.OPT_SERIALIZE_NUMPY))
            if not self.array:
                self.fh.write(b"\n")
            self.first = False

    def checkpoint(self):
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return {"started": not self.first, "bytes": self.fh.tell()}

    def close(self, complete=True):
        if self.array and complete:
            self.fh.write(b"\n]\n")
        self.fh.close()


class ParquetWriter:
    """Parquet cannot be appended to, so each chunk is a part file in a
    folder beside the output; the parts become one file when the run ends."""

    def __init__(self, path, state=None):
        self.path = Path(path)
        self.parts = self.path.with_name(self.path.name + ".d")
        if not state:
            shutil.rmtree(self.parts, ignore_errors=True)
        self.parts.mkdir(exist_ok=True)
        self.count = (state or {}).get("parts", 0)
        for extra in sorted(self.parts.glob("part-*.parquet"))[self.count:]:
            extra.unlink()  # written after the last checkpoint
        self.schema = None

    def write(self, frame, columns):
        import pyarrow as pa
        import pyarrow.parquet as pq

        both = frame.assign(**columns)
        if self.schema is None and self.count:
            self.schema = pq.read_schema(self.parts / "part-00000.parquet")
        try:
            # Later chunks take the first chunk's column types.
            table = pa.Table.from_pandas(both, schema=self.schema, preserve_index=False)
        except (pa.ArrowException, ValueError) as exc:
            raise BatchError(f"cannot write Parquet (a column mixes types?): {exc}")
        self.schema = table.schema
        pq.write_table(table, self.parts / f"part-{self.count:05d}.parquet")
        self.count += 1

    def checkpoint(self):
        return {"started": self.count > 0, "parts": self.count}

    def close(self, complete=True):
        if not complete:
            return
        import pyarrow.parquet as pq

        parts = sorted(self.parts.glob("part-*.parquet"))
        if not parts:
            # No row at all: an empty file with no columns is still a Parquet file.
            import pyarrow as pa

            pq.write_table(pa.table({}), self.path)
        else:
            with pq.ParquetWriter(self.path, pq.read_schema(parts[0])) as out:
                for part in parts:
                    out.write_table(pq.read_table(part))
        shutil.rmtree(self.parts, ignore_errors=True)


def writer_for(path, fmt, state=None):
    if fmt == "csv":
        return CsvWriter(path, state)
    if fmt in ("json", "jsonl"):
        return JsonWriter(path, array=fmt == "json", state=state)
    return ParquetWriter(path, state)


# ---- rows that fail: stop, skip or reject ----------------------------------------

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
        raise BatchError("the parts of a chunk predicted different outputs; use --on-error stop")
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


# ---- the run -----------------------------------------------------------------------

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
    from .client import BridgeClientError
    from .errors import BridgeError

    if on_error not in ON_ERROR:
        raise BatchError(f"--on-error {on_error!r}: use one of {', '.join(ON_ERROR)}")
    if reject_path and on_error != "reject":
        raise BatchError("--reject-file goes with --on-error reject")
    if on_error == "reject" and not reject_path:
        raise BatchError("--on-error reject needs --reject-file FILE")
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
                raise BatchError(f"{input_path}: {_file_rows(exc, rows_read)}") from exc
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
        _close(writer, complete)
        if rejects is not None:
            _close(rejects, complete)
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


def _close(writer, complete):
    if isinstance(writer, CsvWriter):
        writer.close()
    else:
        writer.close(complete=complete)


def _resume_state(checkpoint_path, run_id, partial):
    if not checkpoint_path.is_file():
        return None  # nothing to resume: a fresh run
    state = json.loads(checkpoint_path.read_text(encoding="utf-8"))
    changed = [k for k in run_id if state.get(k) != run_id[k]]
    if changed:
        raise BatchError(f"cannot resume: {', '.join(changed)} changed since the interrupted run "
                         f"(checkpoint {checkpoint_path.name}); run without --resume to start over")
    if not (partial.exists() or Path(str(partial) + ".d").is_dir()):
        raise BatchError(f"cannot resume: {partial.name} is gone; run without --resume to start over")
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


def main(options):
    """The `python -m bridge predict` command; options from cli.py."""
    import logging
    import warnings

    from .client import BridgeClientError
    from .errors import BridgeError

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="R is not initialized by the main thread")
    output = None
    try:
        args = query_args({k: v for k, v in (_split_arg(a) for a in options.arg or [])})
        output = options.output or _default_output(options.input)
        scorer = scorer_for(options.model, url=options.url, object_name=options.object,
                            api_key=options.api_key or os.environ.get("BRIDGE_API_KEY"))
        summary = run(scorer, options.input, output, options.chunk_size, args,
                      progress=False if options.quiet else None, on_error=options.on_error,
                      reject_path=options.reject_file, resume=options.resume)
    except KeyboardInterrupt:
        print(f"interrupted; {output} is not written. `--resume` continues where it stopped",
              file=sys.stderr)
        return 130
    except (BatchError, BridgeError, BridgeClientError, OSError) as exc:
        print(f"error: {getattr(exc, 'description', None) or exc}", file=sys.stderr)
        if output and partial_paths(output)[1].exists():
            print(f"{output} is not written. --on-error skip or reject sets such rows aside; "
                  "--resume continues a run the same input stopped (a lost server, Ctrl-C)",
                  file=sys.stderr)
        return 1
    print(f"wrote {summary.rows:,} {'row' if summary.rows == 1 else 'rows'} to {output}", file=sys.stderr)
    if summary.rejected:
        where = f" to {options.reject_file}" if options.reject_file else ""
        verb = "rejected" if options.reject_file else "skipped"
        rows = "row" if summary.rejected == 1 else "rows"
        print(f"{verb} {summary.rejected:,} {rows}{where} (first: {summary.first_reason})",
              file=sys.stderr)
    return 0


def _split_arg(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise BatchError(f"--arg {text!r}: expected NAME=VALUE, e.g. --arg type=response")
    return name, value


def _default_output(input_path):
    path = Path(input_path)
    return str(path.with_name(path.stem + ".predictions" + path.suffix))


def add_parser(sub):
    p = sub.add_parser("predict", help="score a CSV, JSON or Parquet file with a model",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("model", help="a model file, or http://host:port/models/NAME, or NAME with --url")
    p.add_argument("input", help="rows to score: .csv, .json, .jsonl or .parquet")
    p.add_argument("-o", "--output", help="where to write (default INPUT.predictions.EXT); "
                                          "its extension picks the format")
    p.add_argument("--url", help="a running bridge, e.g. http://127.0.0.1:8080 (MODEL is then a name)")
    p.add_argument("--api-key", dest="api_key", help="sent as a Bearer token (BRIDGE_API_KEY)")
    p.add_argument("--object", help="which model object of an .rda holding several")
    p.add_argument("--arg", action="append", metavar="NAME=VALUE",
                   help="an argument to R's predict(), e.g. --arg type=response (repeatable)")
    p.add_argument("--chunk-size", dest="chunk_size", type=int, default=10_000,
                   help="rows per chunk (default 10000)")
    p.add_argument("--on-error", dest="on_error", choices=ON_ERROR, default="stop",
                   help="a row that does not fit the model or fails in R: stop the run (default), "
                        "skip it, or reject it into --reject-file")
    p.add_argument("--reject-file", dest="reject_file", metavar="FILE",
                   help="with --on-error reject: the rows set aside, numbered as in the input, "
                        "with the reason (its extension picks the format)")
    p.add_argument("--resume", action="store_true",
                   help="continue a run that stopped (error, Ctrl-C, crash) from its last checkpoint")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


__all__ = ["score_file", "scorer_for", "main", "add_parser"]

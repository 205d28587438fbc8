"""Batch scoring: a file of rows in, the same rows with R's predictions out.

    python -m bridge predict MODEL INPUT -o OUTPUT [--arg type=response]

MODEL is a model file (scored in this process's own R) or a served model,
`http://host:port/models/NAME` (or `--url URL NAME`). INPUT is CSV, JSON
(lines, or one array of row objects) or Parquet; OUTPUT's extension picks its
format (.csv, .json, .jsonl, .parquet), by default INPUT's.

The file is read, scored and written chunk by chunk (10,000 rows by default),
so memory stays flat however large the file. CSV is read as text and each
column parsed by the model's own type rules, exactly as the HTTP endpoint
reads a CSV body; CSV output keeps the input text and appends the
prediction column(s), written as the endpoint's `Accept: text/csv` does.
"""

import json
import os
import re
import sys
import urllib.parse
from pathlib import Path

import orjson

from .payload import query_args
from .render import csv_cell
from .table import Table

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}


CHUNK_TIMEOUT = 24 * 3600.0


class BatchError(Exception):
    pass


def file_format(path):
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise BatchError(f"{path}: unknown file type; use one of {', '.join(sorted(FORMATS))}")
    return fmt


# ---- scoring: a local model file or a served model ---------------------------------

class LocalScorer:
    def __init__(self, path, object_name=None):
        from .r.model import load_model

        self.model = load_model(path, object=object_name)

    def score(self, chunk, args):
        # No server's per-request timeout here: a chunk takes what R needs.
        return self.model.predict_table(chunk.table(), args, timeout=CHUNK_TIMEOUT).columns


class RemoteScorer:
    def __init__(self, url, name, api_key=None):
        from .client import Client

        self.client = Client(url, api_key=api_key)
        self.name = name
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


# ---- writing as we go --------------------------------------------------------------

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
    def __init__(self, path):
        self.fh = open(path, "w", encoding="utf-8", newline="")
        self.header = True

    def write(self, frame, columns):
        import pandas as pd

        # R's spelling for predictions (NA, TRUE), as `Accept: text/csv` gives.
        text = pd.DataFrame({n: [csv_cell(v) for v in vals] for n, vals in columns.items()},
                            index=frame.index, dtype=object)
        frame.join(text).to_csv(self.fh, index=False, header=self.header, na_rep="NA",
                                lineterminator="\n")
        self.header = False

    def close(self):
        self.fh.close()


class JsonWriter:
    def __init__(self, path, array):
        self.fh = open(path, "wb")
        self.array = array
        self.first = True
        if array:
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

    def close(self):
        if self.array:
            self.fh.write(b"\n]\n")
        self.fh.close()


class ParquetWriter:
    def __init__(self, path):
        self.path = path
        self.writer = None

    def write(self, frame, columns):
        import pyarrow as pa
        import pyarrow.parquet as pq

        both = frame.assign(**columns)
        try:
            if self.writer is None:
                table = pa.Table.from_pandas(both, preserve_index=False)
                self.writer = pq.ParquetWriter(self.path, table.schema)
            else:
                # Later chunks take the first chunk's column types.
                table = pa.Table.from_pandas(both, schema=self.writer.schema, preserve_index=False)
        except (pa.ArrowException, ValueError) as exc:
            raise BatchError(f"cannot write Parquet (a column mixes types?): {exc}")
        self.writer.write_table(table)

    def close(self):
        if self.writer is not None:
            self.writer.close()


def writer_for(path, fmt):
    if fmt == "csv":
        return CsvWriter(path)
    if fmt in ("json", "jsonl"):
        return JsonWriter(path, array=fmt == "json")
    return ParquetWriter(path)


# ---- the run -----------------------------------------------------------------------

def score_file(scorer, input_path, output_path, chunk_size=10_000, args=None, progress=None):
    """Scores input_path into output_path; returns the number of rows."""
    from .client import BridgeClientError
    from .errors import BridgeError

    args = args or {}
    in_fmt = file_format(input_path)
    out_fmt = file_format(output_path)
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
    writer = writer_for(output_path, out_fmt)
    rows, done = 0, 0
    try:
        for chunk in chunks:
            frame = chunk.frame.reset_index(drop=True)
            try:
                columns = scorer.score(chunk, args)
            except (BridgeError, BridgeClientError) as exc:
                raise BatchError(f"{input_path}: {_file_rows(exc, rows)}") from exc
            writer.write(frame, labelled(frame, columns))
            rows += len(chunk.frame)
            if bar is not None:
                now = fh.tell() if fh is not None else rows
                bar.update(now - done)
                done = now
                bar.set_postfix(rows=f"{rows:,}")
    finally:
        writer.close()
        if fh is not None:
            fh.close()
        if bar is not None:
            bar.close()
    return rows


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
    try:
        args = query_args({k: v for k, v in (_split_arg(a) for a in options.arg or [])})
        output = options.output or _default_output(options.input)
        scorer = scorer_for(options.model, url=options.url, object_name=options.object,
                            api_key=options.api_key or os.environ.get("BRIDGE_API_KEY"))
        rows = score_file(scorer, options.input, output, options.chunk_size, args,
                          progress=False if options.quiet else None)
    except (BatchError, BridgeError, BridgeClientError, OSError) as exc:
        print(f"error: {getattr(exc, 'description', None) or exc}", file=sys.stderr)
        return 1
    print(f"wrote {rows:,} rows to {output}", file=sys.stderr)
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
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


__all__ = ["score_file", "scorer_for", "main", "add_parser"]

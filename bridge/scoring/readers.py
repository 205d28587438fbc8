"""Input files read chunk by chunk: CSV (all text, parsed later by the
model's own column types, as the HTTP endpoint parses a CSV body), JSON
(lines, or one array of row objects, read a block at a time) and Parquet.
"""

import json

import orjson

from ..table import Table
from .files import ScoringError


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
            raise ScoringError(f"row {len(rows) + 1} of a chunk is not a JSON object")
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
                raise ScoringError("the JSON array ends in the middle of a row")
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

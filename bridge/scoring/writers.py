"""Output files written as a run goes, one writer per format.

Every writer has the same three calls: `write(frame, columns)` for the rows
of a chunk and their predictions, `checkpoint()` (what a resumed run needs
to carry on: flushed to disk first) and `close(complete)`; a run that did
not finish closes with complete=False, leaving what `--resume` needs.
"""

import os
import shutil
from pathlib import Path

import orjson

from ..render import csv_cell
from .files import ScoringError


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
        return _file_checkpoint(self.fh, started=not self.header)

    def close(self, complete=True):
        # CSV needs no closing bracket: complete or not, the rows are the file.
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
        return _file_checkpoint(self.fh, started=not self.first)

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
            raise ScoringError(f"cannot write Parquet (a column mixes types?): {exc}")
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


def _file_checkpoint(fh, started):
    """A text writer's state after a chunk, on disk first: how much of the
    file a resumed run keeps."""
    fh.flush()
    os.fsync(fh.fileno())
    return {"started": started, "bytes": fh.tell()}


def writer_for(path, fmt, state=None):
    if fmt == "csv":
        return CsvWriter(path, state)
    if fmt in ("json", "jsonl"):
        return JsonWriter(path, array=fmt == "json", state=state)
    return ParquetWriter(path, state)

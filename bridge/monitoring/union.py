"""The union schema of a prediction-log folder (on the log writer's thread),
so that `pandas.read_parquet(DIR)` over the whole folder reads every model's
rows with every model's columns, other models' columns as nulls.

pyarrow (and so pandas) takes a folder's schema from the first file it
finds, in path order, and casts every other file to it: a column the first
file lacks is not read at all. So the folder holds one zero-row file with
the union of every file's columns, `DIR/!schema/union.parquet`, named to
sort before any model's folder (`log.model_folder` starts a name with a
letter, a digit, `-`, `_` or `%`, all after `!`; pyarrow and Spark skip
names starting with `_` or `.`). It sits in a folder of its own because
Spark, without `recursiveFileLookup`, reads a file at the root alone and
silently finds no rows; in a folder, it fails and says so.

The file is rewritten (temporary name, then rename) *before* a data file
with a new column or a wider type is renamed into place, so a reader that
sees a data file also sees a union that covers it. A column two files log
with different types gets their common type (int32 and double: double;
anything and null: that thing) or, when there is none (double in one model,
text in another), string: pyarrow casts each file's values to text on read,
so nothing is lost. A type that cannot be cast to that (none among the
types the log writes) leaves the column out of the union: its values are
then read per model folder only. The union only ever widens, and it is
merged with the file on disk before each rewrite, so a restart or a second
server on the same folder keeps the columns already there.
"""

import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .columns import UNION_FOLDER as FOLDER

log = logging.getLogger(__name__)

FILE = "union.parquet"
DROPPED = b"bridge.dropped"   # schema metadata: columns left out (no common type)


def union_type(types):
    """The type every one of `types` reads as, or None when there is none."""
    types = list(dict.fromkeys(types))
    common = types[0]
    for t in types[1:]:
        try:
            common = pa.unify_schemas([pa.schema([("c", common)]), pa.schema([("c", t)])],
                                      promote_options="permissive").field("c").type
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            common = pa.string()
    return common if all(_castable(t, common) for t in types) else None


def _castable(source, target):
    if source == target:
        return True
    try:
        pa.array([], source).cast(target)
        return True
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return False


class UnionSchema:
    def __init__(self, folder):
        self.path = Path(folder) / FOLDER / FILE
        self._seen = None        # column -> [types seen], in first-seen order
        self._dropped = set()
        self.writes = 0

    def admit(self, schema):
        """Called before a file of `schema` is renamed into the folder: the
        union file covers its columns and types when this returns."""
        if self._seen is None:
            self._seen = {}
            self._absorb_existing()
        if self._covers(schema):
            return
        self._absorb(self._read())   # a second server's columns, since we last looked
        self._absorb(schema)
        self._write()

    def schema(self):
        fields = []
        for name, types in self._seen.items():
            if name in self._dropped:
                continue
            common = union_type(types)
            if common is None:
                self._dropped.add(name)
                continue
            fields.append(pa.field(name, common))
        meta = {DROPPED: json.dumps(sorted(self._dropped)).encode()} if self._dropped else None
        return pa.schema(fields, metadata=meta)

    # ----------------------------------------------------------------------------------

    def _covers(self, schema):
        return all(f.name in self._dropped or f.type in self._seen.get(f.name, ())
                   for f in schema)

    def _absorb(self, schema):
        if schema is None:
            return
        for f in schema:
            seen = self._seen.setdefault(f.name, [])
            if f.type not in seen:
                seen.append(f.type)
        meta = schema.metadata or {}
        if DROPPED in meta:
            self._dropped.update(json.loads(meta[DROPPED]))

    def _absorb_existing(self):
        """At the first file: the union on disk, or (a folder written before
        there was one) every data file's footer, once."""
        existing = self._read()
        if existing is not None:
            self._absorb(existing)
            return
        root = self.path.parent.parent
        for path in sorted(root.glob("*/*.parquet")):
            if path.parent.name.startswith(("_", ".", "!")):
                continue
            try:
                self._absorb(pq.read_schema(path))
            except (OSError, pa.ArrowException) as exc:
                log.warning("prediction log: cannot read the schema of %s: %s", path, exc)

    def _read(self):
        try:
            return pq.read_schema(self.path)
        except FileNotFoundError:
            return None
        except (OSError, pa.ArrowException) as exc:
            log.warning("prediction log: %s unreadable (%s); rewriting it", self.path, exc)
            return None

    def _write(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.parent / f".{FILE}.{os.getpid()}.tmp"
        try:
            pq.write_table(self.schema().empty_table(), tmp)
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        self.writes += 1

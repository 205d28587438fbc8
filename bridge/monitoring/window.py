"""The rows a live drift window holds (front side, the monitor's thread;
drift.py reads them under its lock): the last `capacity` rows of one model
version's answered calls, as numpy rings, one per column, so a row costs
bytes, not Python objects:

  numbers (numeric, integer, Date, POSIXct: doubles, NA as NaN): a float64
          value and a presence byte (a call without the column);
  labels  (factor levels, characters, logicals): an int32 code into a table
          of the labels the window holds now (a label leaves the table with
          its last row), -1 for NA, -2 for a call without the column;
  and one float64 arrival time per row, for the time bound.

What the window gives back (`numbers`, `labels`) is the multiset of its
values (labels in order of first appearance), which is all the summaries,
PSI, KS and percentiles of drift.py use: the same numbers as holding the
calls' values themselves (tests/test_monitoring.py checks it against that).
NOTE(predlog): 20 models x 10,000 single-row calls of a 3-input model grew
the process by 205 MiB when the window held the calls' Python values (10.3
MiB per model version), and by 8.0 MiB (0.40 MiB) with these rings
(`python -m bench.logsize --monitor`, docs/monitoring.md).
"""

import numpy as np

from ..convert import INT_NA

MISSING, ABSENT = -1, -2
FIRST = 64   # rows allocated at first; doubled up to capacity (an idle model costs little)
SMALL = 16   # a call of at most this many rows is coded in plain Python: numpy's per-call
             # overhead (np.unique, np.where) dominates single-row calls


class Labels:
    """Label <-> int32 code, with how many rows of the window hold each."""

    def __init__(self):
        self.code = {}
        self.label = []
        self.count = []
        self.free = []

    def _intern(self, label):
        code = self.code.get(label)
        if code is None:
            if self.free:
                code = self.free.pop()
                self.label[code] = label
            else:
                code = len(self.label)
                self.label.append(label)
                self.count.append(0)
            self.code[label] = code
        return code

    def encode(self, values):
        """A list of labels (None: NA) -> codes."""
        codes = np.fromiter((MISSING if v is None else self._intern(v) for v in values),
                            dtype=np.int32, count=len(values))
        self._hold(codes)
        return codes

    def encode_indexed(self, index, labels):
        """Indices into `labels` (-1: NA; a list for a small call, else an int
        array) -> codes, without a Python loop per row for a large call."""
        if isinstance(index, list):
            codes = [MISSING if i < 0 else self._intern(labels[i]) for i in index]
            for code in codes:
                if code >= 0:
                    self.count[code] += 1
            return np.array(codes, dtype=np.int32)
        present = np.flatnonzero(np.bincount(index[index >= 0], minlength=len(labels)))
        table = np.full(len(labels) + 1, MISSING, dtype=np.int32)  # [-1] stays MISSING
        for i in present.tolist():
            table[i] = self._intern(labels[i])
        codes = table[index]
        self._hold(codes)
        return codes

    def _hold(self, codes):
        if len(codes) <= SMALL:
            for code in codes.tolist():
                if code >= 0:
                    self.count[code] += 1
            return
        counts = np.bincount(codes[codes >= 0])
        for code in np.flatnonzero(counts).tolist():
            self.count[code] += int(counts[code])

    def release(self, codes):
        if len(codes) <= SMALL:
            for code in codes.tolist():
                if code >= 0:
                    self._drop(code, 1)
            return
        counts = np.bincount(codes[codes >= 0])
        for code in np.flatnonzero(counts).tolist():
            self._drop(code, int(counts[code]))

    def _drop(self, code, n):
        self.count[code] -= n
        if self.count[code] == 0:
            del self.code[self.label[code]]
            self.label[code] = None
            self.free.append(code)


class _Numbers:
    kind = "number"

    def __init__(self, alloc):
        self.values = np.empty(alloc, dtype=np.float64)
        self.present = np.zeros(alloc, dtype=bool)

    def write(self, where, data):
        self.values[where] = data
        self.present[where] = True

    def clear(self, where):
        self.present[where] = False

    def release(self, where):
        pass

    def resize(self, order, alloc):
        n = len(order)
        values, present = np.empty(alloc, dtype=np.float64), np.zeros(alloc, dtype=bool)
        values[:n], present[:n] = self.values[order], self.present[order]
        self.values, self.present = values, present

    def nbytes(self):
        return self.values.nbytes + self.present.nbytes


class _Labels:
    kind = "labels"

    def __init__(self, alloc):
        self.codes = np.full(alloc, ABSENT, dtype=np.int32)
        self.table = Labels()

    def write(self, where, data):
        self.codes[where] = data

    def clear(self, where):
        self.codes[where] = ABSENT

    def release(self, where):
        self.table.release(self.codes[where])
        self.codes[where] = ABSENT

    def resize(self, order, alloc):
        codes = np.full(alloc, ABSENT, dtype=np.int32)
        codes[:len(order)] = self.codes[order]
        self.codes = codes

    def nbytes(self):
        return self.codes.nbytes + sum(len(s) + 49 for s in self.table.code if isinstance(s, str))


class Ring:
    """Rows of calls, oldest first, at most `capacity`."""

    def __init__(self, capacity):
        self.capacity = int(capacity)
        self.alloc = 0
        self.start = 0
        self.size = 0
        self.times = np.empty(0, dtype=np.float64)
        self.columns = {}   # key -> _Numbers | _Labels

    # ---- writing ------------------------------------------------------------------------

    def append(self, now, n, values):
        """One call's `n` rows; `values`: key -> ("number", float array) |
        ("labels", [label or None]) | ("indexed", int array (-1: NA), labels).
        A call of more rows than the capacity keeps its last ones."""
        if n <= 0:
            return
        skip = max(0, n - self.capacity)
        n -= skip
        self.evict(max(0, self.size + n - self.capacity))
        if self.size + n > self.alloc:
            self._grow(self.size + n)
        where = self._slots(self.size, n)
        for w in where:
            self.times[w] = now
        for key, value in values.items():
            column = self._column(key, "number" if value[0] == "number" else "labels")
            data = self._encode(column, value, skip)
            at = 0
            for w in where:
                width = w.stop - w.start
                column.write(w, data[at:at + width])
                at += width
        for key, column in self.columns.items():
            if key not in values:
                for w in where:
                    column.clear(w)
        self.size += n

    def _encode(self, column, value, skip):
        if value[0] == "number":
            return np.asarray(value[1][skip:], dtype=np.float64)
        if value[0] == "indexed":
            index = value[1][skip:]
            return column.table.encode_indexed(
                index if isinstance(index, list) else np.asarray(index), value[2])
        return column.table.encode(value[1][skip:])

    def _column(self, key, kind):
        column = self.columns.get(key)
        if column is not None and column.kind != kind:
            # the same name, now another kind (a reloaded model's schema): start it anew
            for w in self._slots(0, self.size):
                column.release(w)
            column = None
        if column is None:
            column = self.columns[key] = (_Numbers if kind == "number" else _Labels)(self.alloc)
            for w in self._slots(0, self.size):
                column.clear(w)
        return column

    def evict(self, k):
        """The `k` oldest rows leave."""
        k = min(k, self.size)
        if not k:
            return
        for w in self._slots(0, k):
            for column in self.columns.values():
                column.release(w)
        self.start = (self.start + k) % self.alloc
        self.size -= k

    def trim(self, since):
        """Rows that arrived before `since` leave (the oldest first, up to the
        first one that did not: a clock set back keeps what follows it)."""
        if not self.size or self.times[self.start] >= since:
            return
        old = self.chronological(self.times) < since
        self.evict(self.size if old.all() else int(np.argmin(old)))

    def _grow(self, need):
        alloc = min(self.capacity, max(FIRST, 2 * self.alloc, need))
        order = self._order()
        times = np.empty(alloc, dtype=np.float64)
        times[:self.size] = self.times[order]
        self.times = times
        for column in self.columns.values():
            column.resize(order, alloc)
        self.alloc, self.start = alloc, 0

    # ---- positions ------------------------------------------------------------------------

    def _slots(self, offset, n):
        """The ring's slices holding rows offset..offset+n-1 (oldest = 0)."""
        if n <= 0:
            return ()
        a = (self.start + offset) % self.alloc
        if a + n <= self.alloc:
            return (slice(a, a + n),)
        return (slice(a, self.alloc), slice(0, a + n - self.alloc))

    def _order(self):
        return (self.start + np.arange(self.size)) % self.alloc if self.alloc else \
            np.arange(0)

    def chronological(self, array):
        return np.concatenate([array[w] for w in self._slots(0, self.size)]) if self.size else \
            array[:0].copy()

    # ---- reading (copies, so the caller may let the lock go) --------------------------------

    def snapshot(self, key):
        """("number", values present, NaN: NA) | ("labels", n, missing, {label: count}
        in order of first appearance) | None (no row has this column)."""
        column = self.columns.get(key)
        if column is None:
            return None
        if column.kind == "number":
            values = self.chronological(column.values)[self.chronological(column.present)]
            return ("number", values) if len(values) else None
        codes = self.chronological(column.codes)
        codes = codes[codes != ABSENT]
        if not len(codes):
            return None
        held = codes[codes >= 0]
        missing = len(codes) - len(held)
        uniq, first, counts = np.unique(held, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")
        labels = column.table.label
        return ("labels", len(codes), missing,
                {labels[int(uniq[i])]: int(counts[i]) for i in order})

    def keys(self):
        return list(self.columns)

    def nbytes(self):
        return self.times.nbytes + sum(c.nbytes() for c in self.columns.values())


class Floats:
    """The last `capacity` floats (latencies)."""

    def __init__(self, capacity):
        self.values = np.empty(capacity, dtype=np.float64)
        self.count = 0

    def append(self, value):
        self.values[self.count % len(self.values)] = value
        self.count += 1

    def array(self):
        return self.values[:min(self.count, len(self.values))].copy()


def as_indexed(data, kind, levels):
    """A factor's or logical's int32 data (convert.Prepared) -> ("indexed",
    indices into its labels, -1: NA, labels)."""
    factor = kind in ("factor", "ordered")
    labels = tuple(levels) if factor else ("FALSE", "TRUE")
    if len(data) <= SMALL:
        return ("indexed", [-1 if v == INT_NA else (v - 1 if factor else int(v != 0))
                            for v in data.tolist()], labels)
    mask = data == INT_NA
    if factor:
        return ("indexed", np.where(mask, -1, data - 1), labels)
    return ("indexed", np.where(mask, -1, (data != 0).astype(np.int32)), labels)

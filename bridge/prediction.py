"""What a model answered, as the front holds it: one entry per input row.

Shared code: built in an R worker (bridge/r/model.py), it crosses the pipe
as it is.
"""

import numpy as np

from .formats.shapes import columns_to_records


class Prediction:
    """What predict() returned, flattened: `vector` (one value per row) or
    `table` (named columns, one object per row), plus per-call `info`.

    `columns` is {name: list}, None where R had NA or NaN. A column of R
    doubles is held as a float64 numpy vector (`vectors`, NaN where R had NA
    or NaN) from R to the JSON answer: it crosses the pipe as its bytes and
    orjson writes it (json_records), byte for byte what the list would give
    (tests/test_conversion.py). The lists are made only when something asks
    for `columns` (CSV, the monitors, the Python API), once.
    """

    def __init__(self, kind, columns, info, warnings):
        self.kind = kind
        self.vectors = columns   # name -> list, or float64 numpy vector
        self.info = info
        self.warnings = warnings
        self._lists = None

    @property
    def columns(self):
        lists = self._lists
        if lists is None:
            lists = self._lists = {k: _as_list(v) for k, v in self.vectors.items()}
        return lists

    @property
    def nrows(self):
        return len(next(iter(self.vectors.values()), []))

    def slice(self, start, stop):
        return Prediction(self.kind, {k: v[start:stop] for k, v in self.vectors.items()},
                          self.info, self.warnings)

    def records(self):
        if self.kind == "vector":
            return next(iter(self.columns.values()), [])
        return columns_to_records(self.columns)

    def json_records(self):
        """records() for orjson with OPT_SERIALIZE_NUMPY: a vector answer
        is its column as held (numpy writes NaN as null, as None is)."""
        if self.kind == "vector":
            return next(iter(self.vectors.values()), [])
        return self.records()

    def to_pandas(self):
        import pandas as pd

        if self.kind == "vector":
            return pd.Series(next(iter(self.columns.values()), []), name="prediction")
        return pd.DataFrame(self.columns)

    def __reduce__(self):
        # The vectors only: lists made on one side are not sent to the other.
        return Prediction, (self.kind, self.vectors, self.info, self.warnings)

    def __eq__(self, other):
        if not isinstance(other, Prediction):
            return NotImplemented
        return (self.kind, self.columns, self.info, self.warnings) == \
            (other.kind, other.columns, other.info, other.warnings)

    def __repr__(self):
        return (f"Prediction(kind={self.kind!r}, columns={self.columns!r}, info={self.info!r}, "
                f"warnings={self.warnings!r})")


def _as_list(values):
    """A column as Python values: NaN (R's NA or NaN) becomes None."""
    if not isinstance(values, np.ndarray):
        return values
    out = values.tolist()
    if np.isnan(values).any():
        out = [None if x != x else x for x in out]
    return out


EMPTY = Prediction("vector", {"prediction": []}, {}, [])

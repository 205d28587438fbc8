"""What a model answered, as the front holds it: one entry per input row.

Shared code: built in an R worker (bridge/r/model.py), it crosses the pipe
as it is.
"""

import dataclasses

from .formats.shapes import columns_to_records


@dataclasses.dataclass
class Prediction:
    """What predict() returned, flattened: `vector` (one value per row) or
    `table` (named columns, one object per row), plus per-call `info`."""

    kind: str
    columns: dict
    info: dict
    warnings: list

    @property
    def nrows(self):
        return len(next(iter(self.columns.values()), []))

    def slice(self, start, stop):
        return Prediction(self.kind, {k: v[start:stop] for k, v in self.columns.items()},
                          self.info, self.warnings)

    def records(self):
        if self.kind == "vector":
            return next(iter(self.columns.values()), [])
        return columns_to_records(self.columns)

    def to_pandas(self):
        import pandas as pd

        if self.kind == "vector":
            return pd.Series(next(iter(self.columns.values()), []), name="prediction")
        return pd.DataFrame(self.columns)


EMPTY = Prediction("vector", {"prediction": []}, {}, [])

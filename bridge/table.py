"""A request's rows, column by column, before they meet a model's schema."""

import dataclasses

from .convert import Prepared, prepare_column
from .errors import InputError
from .schema import Column

MISSING = object()


@dataclasses.dataclass
class Table:
    """Columns of equal length. `text` is set when every value is a string to
    be parsed by the column's type (CSV), rather than a typed JSON value."""

    columns: dict
    nrows: int
    text: bool = False

    @classmethod
    def from_pandas(cls, df):
        import pandas as pd

        columns = {}
        for name in df.columns:
            series = df[name]
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype(object)
            values = series.astype(object).where(series.notna(), None).tolist()
            columns[str(name)] = values
        return cls(columns, len(df))


def prepare_table(schema, table):
    """Checks a table against a model's schema: one Prepared per input column.

    Missing columns are an error; extra columns are ignored. A model that
    records no inputs at all gets every column with plain JSON typing.
    """
    columns = schema.columns
    if not columns and schema.source == "none":
        columns = tuple(Column(name, "any") for name in table.columns)
    missing = [c.name for c in columns if c.name not in table.columns]
    if missing:
        raise InputError(
            f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(repr(m) for m in missing)}; "
            f"the model needs {', '.join(repr(c.name) for c in columns)}",
            missing_columns=missing)
    return [prepare_column(c, table.columns[c.name], table.text, schema.strings_unsafe)
            for c in columns]


def nrows_of(prepared, table):
    return len(prepared[0]) if prepared else table.nrows


__all__ = ["Table", "Prepared", "prepare_table", "nrows_of"]

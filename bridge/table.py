"""A request's rows, column by column, before they meet a model's schema."""

import dataclasses
import typing

from .convert import Prepared, prepare_column
from .errors import InputError
from .schema import Column
from .suggest import closest

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
        from .formats.shapes import pandas_columns

        return cls(pandas_columns(df), len(df))


class Request(typing.NamedTuple):
    """A predict request checked against a model: what the pool sends to R
    (and what the service's observers see)."""

    columns: list    # one convert.Prepared per input, in the model's order
    nrows: int
    args: dict       # the sidecar's defaults, then the caller's
    caller: tuple    # the argument names the caller set


def prepare_table(schema, table, args=None):
    """Checks a table against a model's schema: one Prepared per input column.

    Missing columns are an error; extra columns are ignored. A model that
    records no inputs at all gets every column with plain JSON typing. With
    `args` that make R take unseen levels of a factor (schema.new_levels),
    such a level goes to R as NA rather than being refused.
    """
    columns = schema.columns
    open_factors = schema.open_factors(args) if args and schema.new_levels else frozenset()
    if not columns and schema.source == "none":
        columns = tuple(Column(name, "any") for name in table.columns)
    # A factor value the model never saw is the caller's most specific
    # mistake: it is named first, before a missing column or anything R
    # would say (issue 23), so the factor columns sent are checked first.
    factors = {c.name: prepare_column(c, table.columns[c.name], table.text, schema.strings_unsafe,
                                      c.name in schema.untyped_factors, c.name in open_factors)
               for c in columns if c.levels and c.name in table.columns}
    missing = [c.name for c in columns if c.name not in table.columns]
    unknown = [name for name in table.columns if name not in schema.known]
    if missing:
        raise InputError(
            f"missing column{'s' if len(missing) > 1 else ''}: "
            f"{', '.join(_missing(m, unknown) for m in missing)}; "
            f"the model needs {', '.join(repr(c.name) for c in columns)}{schema.missing_note}",
            missing_columns=missing)
    if unknown and schema.source != "none":
        _refuse_stray_keys(columns, unknown, table)
    # Optional columns sent go last, after the schema's own positions.
    return [factors[c.name] if c.name in factors else
            prepare_column(c, table.columns[c.name], table.text, schema.strings_unsafe,
                           c.name in schema.untyped_factors)
            for c in columns] + [
        prepare_column(c, table.columns[c.name], table.text, schema.strings_unsafe)
        for c in schema.optional if c.name in table.columns]


def _missing(name, unknown):
    """'hp', or 'hp' (got 'hpp': did you mean 'hp'?) when a sent key is near it."""
    near = closest(name, unknown)
    return repr(name) + (f" (got {near!r}: did you mean {name!r}?)" if near is not None else "")


def _refuse_stray_keys(columns, unknown, table):
    """A row without a value for an input but with a key the model does not
    know, where other rows leave that key out: a misspelled key (`"hpp"` for
    `"hp"` in one row), which would otherwise predict that row with NA.
    A key every row carries (an id) is simply ignored."""
    for name in unknown:
        values = table.columns[name]
        if all(v is not None for v in values):
            continue
        near = closest(name, [c.name for c in columns])
        for col in sorted(columns, key=lambda c: c.name != near):
            required = table.columns[col.name]
            for i, (v, r) in enumerate(zip(values, required)):
                if v is not None and r is None:
                    guess = f" (did you mean '{near}'?)" if near == col.name else ""
                    raise InputError(
                        f"row {i + 1} has no value for column '{col.name}' but has the key "
                        f"'{name}', which the model does not know{guess}",
                        row=i + 1, column=col.name, unknown_key=name)


def forecaster_error(name):
    """/predict on a forecaster: a 422 that points to /forecast."""
    return InputError(f"{name!r} is a forecaster: it answers a horizon, not rows; "
                      f"POST /models/{name}/forecast with {{\"h\": 12}}",
                      kind="forecaster", forecast=f"/models/{name}/forecast")


def nrows_of(prepared, table):
    return len(prepared[0]) if prepared else table.nrows


def prepare_request(model, table, args):
    """A predict request checked against a model, wherever it is predicted
    (the front, the Python API): (prepared columns, rows, arguments, the
    names the caller set), or None when there is nothing to predict.

    The arguments are the sidecar's defaults, then the caller's: those only
    from the model's allow-list and only as plain data (bridge/args.py). The
    caller's names go along so R can tell an error their values caused."""
    if getattr(model, "kind", "model") == "forecaster":
        raise forecaster_error(model.name)
    model.arg_spec.check(args)
    merged, caller = {**model.default_args, **args}, tuple(args)
    if table.nrows == 0 and not table.columns:
        return None  # an empty row list has no columns to check either
    prepared = prepare_table(model.schema, table, merged)
    if table.nrows == 0:
        return None
    return Request(prepared, nrows_of(prepared, table), merged, caller)


__all__ = ["Table", "Prepared", "Request", "prepare_table", "prepare_request", "nrows_of"]

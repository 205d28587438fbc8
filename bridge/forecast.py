"""Forecast requests and answers: what a caller may ask a forecaster, checked
before anything reaches R, and how the answer reads (records, CSV, pandas).
Knows neither HTTP nor R.

A request is a JSON object:
    {"h": 12, "level": [80, 95], "xreg": rows | {column: [values]} | [numbers],
     "args": {...}, "seed": 1}
and, to apply the fitted model to another series,
    {"y": [...], "start": 1961 | [1961, 1], "frequency": 12, "h": 6}.
Every value is data: h, levels and seed are numbers checked here; xreg is
typed against the model's regressors by the same rules as predict rows
(bridge/table.py); args are checked against the forecaster's allow-list
(r_scripts/bridge/forecast.R checks them again before the call).
"""

import dataclasses
import math
import secrets

from .convert import INT_MAX, prepare_numeric
from .formats.json_rows import columns_table
from .formats.shapes import columns_to_records, rows_to_columns
from .errors import BadRequest, InputError
from .render import columns_csv
from .schema import Column
from .suggest import hint
from .table import Table, prepare_table

MAX_HORIZON = 10_000
MAX_LEVELS = 20
FIELDS = ("h", "level", "xreg", "args", "seed", "y", "start", "frequency")


@dataclasses.dataclass(frozen=True)
class ForecasterInfo:
    """What a forecaster needs and gives, read from R once at load."""

    frequency: float
    start: str
    last_time: str
    n: int
    regressors: tuple
    levels: tuple
    method: str          # "forecast" (forecast::forecast) or "predict" (predict(n.ahead =))
    args: tuple          # argument names a caller may pass
    function_args: tuple  # of those, the ones a string must never reach
    can_apply: bool
    min_length: int

    def describe(self):
        return {
            "frequency": self.frequency,
            "start": self.start,
            "last_time": self.last_time,
            "observations": self.n,
            "regressors": {"names": list(self.regressors), "count": len(self.regressors)},
            "default_levels": list(self.levels),
            "method": "forecast::forecast()" if self.method == "forecast" else "predict(n.ahead =)",
            "args": list(self.args),
            "apply_to_series": self.can_apply,
            "min_series_length": self.min_length if self.can_apply else None,
        }


@dataclasses.dataclass
class Series:
    """Another series to apply the fitted model to."""

    y: object            # a Prepared numeric column
    start: tuple         # () for R's default, (time,) or (period, cycle)
    frequency: float     # None: the model's own


@dataclasses.dataclass
class ForecastRequest:
    h: int = None        # None: R's default horizon for the model
    level: tuple = None  # None: the model's default levels
    xreg: list = None    # Prepared columns, in the model's regressor order
    xreg_rows: int = 0
    args: dict = dataclasses.field(default_factory=dict)
    seed: int = None
    series: Series = None

    @property
    def nrows(self):
        """Rows the caller sent (regressor rows or series values), for the row limit."""
        return self.xreg_rows + (len(self.series.y) if self.series else 0)


@dataclasses.dataclass
class Forecast:
    """R's answer: one column per field (step, time, mean, lower_<L>, upper_<L>)."""

    columns: dict
    simulated: bool
    seed: int
    warnings: list

    @property
    def nrows(self):
        return len(self.columns.get("step", []))

    def records(self):
        return columns_to_records(self.columns)

    def body(self, name):
        out = {"model": name, "forecast": self.records()}
        if self.simulated:
            # Intervals were simulated: this seed gives the same numbers again.
            out["seed"] = self.seed
        if self.warnings:
            out["warnings"] = self.warnings
        return out

    def csv(self):
        return columns_csv(self.columns)

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.columns)


# ---- parsing a request ---------------------------------------------------------------

def parse_request(doc, info, schema, max_horizon=MAX_HORIZON):
    """A checked ForecastRequest from a decoded JSON body, or a 400/422 that
    says what is wrong."""
    if not isinstance(doc, dict):
        raise BadRequest('expected a JSON object such as {"h": 12, "level": [80, 95]}')
    unknown = [k for k in doc if k not in FIELDS]
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}{hint(unknown[0], FIELDS)}; a forecast "
                         f"request takes {', '.join(FIELDS)}", field=unknown[0])
    req = ForecastRequest()
    req.h = _horizon(doc.get("h"), max_horizon)
    req.level = _levels(doc.get("level"))
    req.seed = _seed(doc.get("seed"))
    req.args = _args(doc.get("args"), info)
    if doc.get("y") is not None:
        req.series = _series(doc, info)
        if doc.get("xreg") is not None:
            raise InputError("'xreg' cannot be sent with 'y': applying a model to another series "
                             "is supported for models without regressors", field="xreg")
    else:
        for key in ("start", "frequency"):
            if doc.get(key) is not None:
                raise InputError(f"'{key}' describes the series in 'y', which is missing", field=key)
        _xreg(req, doc.get("xreg"), info, schema, max_horizon)
    return req


def _horizon(value, max_horizon):
    if value is None:
        return None
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise InputError(f"'h' must be a whole number of steps, got {value!r}", field="h")
    if not 1 <= value <= max_horizon:
        raise InputError(f"'h' must be between 1 and {max_horizon} (BRIDGE_MAX_HORIZON), got {value}",
                         field="h", max_horizon=max_horizon)
    return value


def _levels(value):
    """Levels as the caller wrote them, checked to be numbers in (0, 100).
    They reach R unscaled: forecast() (and the bridge's R code for predict()
    methods) read them once, all below 1 as fractions (0.8 is 80 %). Scaling
    here as well scaled them twice (0.005, i.e. 0.5 %, answered 50 %)."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not values or len(values) > MAX_LEVELS:
        raise InputError(f"'level' must hold 1 to {MAX_LEVELS} numbers", field="level")
    for v in values:
        if type(v) not in (int, float) or not math.isfinite(v) or not 0 < v < 100:
            raise InputError(f"'level' values must be numbers between 0 and 100 (exclusive), "
                             f"got {v!r}", field="level", value=v if type(v) in (int, float, str) else None)
    return tuple(sorted(set(float(v) for v in values)))


def _seed(value):
    if value is None:
        # Reported back when R simulated, so any answer can be reproduced.
        return secrets.randbelow(INT_MAX) + 1
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or not -INT_MAX <= value <= INT_MAX:
        raise InputError(f"'seed' must be a whole number within R's integer range, got {value!r}",
                         field="seed")
    return value


def _args(value, info):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("'args' must be a JSON object of forecast() arguments")
    for name, v in value.items():
        if name not in info.args:
            allowed = ", ".join(info.args) or "none"
            raise InputError(f"argument '{name}' is not an argument of this forecaster"
                             f"{hint(name, info.args)}; allowed: {allowed}", argument=name)
        items = v if isinstance(v, list) else [v]
        if any(type(x) not in (bool, int, float, str) or (type(x) is float and not math.isfinite(x))
               for x in items) or (isinstance(v, list) and not v):
            raise InputError(f"argument '{name}': expected a string, number, boolean or a list of "
                             "one of those", argument=name)
        if name in info.function_args and any(type(x) is str for x in items):
            raise InputError(f"argument '{name}' takes a function; a string is refused (it would "
                             "name code)", argument=name)
    return dict(value)


def _xreg(req, value, info, schema, max_horizon):
    names = list(info.regressors)
    if value is None:
        if names:
            raise InputError(
                f"this model was fitted with regressor{'s' if len(names) > 1 else ''} "
                f"{', '.join(repr(n) for n in names)}: send their future values in 'xreg', "
                "one row per step", missing_columns=names)
        return
    if not names:
        raise InputError("this model was fitted without regressors: leave 'xreg' out", field="xreg")
    table = _xreg_table(value, names)
    if table.nrows == 0:
        raise InputError("'xreg' holds no rows: send one row per step", field="xreg")
    if table.nrows > max_horizon:
        raise InputError(f"'xreg' has {table.nrows} rows; at most {max_horizon} steps "
                         "(BRIDGE_MAX_HORIZON)", field="xreg", max_horizon=max_horizon)
    if req.h is not None and req.h != table.nrows:
        raise InputError(f"'h' is {req.h} but 'xreg' has {table.nrows} rows: one row per step",
                         field="h")
    req.h = table.nrows
    req.xreg = prepare_table(schema, table)
    req.xreg_rows = table.nrows


def _xreg_table(value, names):
    """Rows, columns, or (one regressor) a plain list of values."""
    if isinstance(value, dict):
        return columns_table(value, "xreg column")
    if not isinstance(value, list):
        raise BadRequest("'xreg' must be an array of row objects or an object of column arrays")
    if value and all(type(row) is dict for row in value):
        return Table(rows_to_columns(value, "xreg row"), len(value))
    if any(type(row) is dict for row in value):
        i = next(i for i, row in enumerate(value) if type(row) is not dict)
        raise BadRequest(f"xreg row {i + 1} is not a JSON object", row=i + 1)
    if len(names) != 1:
        raise BadRequest(f"a plain array in 'xreg' is read as the one regressor; this model has "
                         f"{len(names)} ({', '.join(names)}): send rows or columns")
    return Table({names[0]: list(value)}, len(value))


def _series(doc, info):
    if not info.can_apply:
        raise InputError("this model cannot be applied to another series (supported: Arima, ets, "
                         "bats/tbats, nnetar, HoltWinters, StructTS without regressors)", field="y")
    y = doc["y"]
    if not isinstance(y, list) or not y:
        raise InputError("'y' must be a non-empty array of numbers (null for a missing value)",
                         field="y")
    prepared = prepare_numeric(Column("y", "numeric"), y)
    start = doc.get("start")
    if start is None:
        start = ()
    elif type(start) in (int, float):
        start = (start,)
    elif isinstance(start, list) and len(start) == 2 and all(type(v) in (int, float) for v in start):
        start = tuple(start)
    else:
        raise InputError("'start' must be a time (1961.5) or [period, cycle] ([1961, 7])",
                         field="start")
    if any(not math.isfinite(v) or abs(v) > 1e7 for v in start):
        raise InputError("'start' must hold finite times", field="start")
    frequency = doc.get("frequency")
    if frequency is not None and (type(frequency) not in (int, float) or not math.isfinite(frequency)
                                  or frequency <= 0):
        raise InputError(f"'frequency' must be a positive number, got {frequency!r}", field="frequency")
    if frequency is not None and abs(frequency - info.frequency) > 1e-8:
        raise InputError(f"the series' frequency {frequency:g} differs from the model's "
                         f"{info.frequency:g}", field="frequency", model_frequency=info.frequency)
    if len(y) < info.min_length:
        raise InputError(f"the series has {len(y)} observations; this model needs at least "
                         f"{info.min_length}", field="y", min_length=info.min_length)
    return Series(prepared, start, frequency)


"""The executor side of grouped forecasting: one series (one group of
applyInPandas) -> R's forecast of the template model applied to it, in the
Python worker's R worker process (bridge/spark/executor.py `served`:
started once, model cached, a dead R replaced).

The series goes through the same checks as POST /models/{name}/forecast
with {"y": [...]} (bridge/forecast.py parse_request): a series too short,
a frequency that differs, values that are not numbers.
"""

from ..errors import BridgeError
from .executor import retried, served, stopped
from .plan import ERROR_COLUMN, typed


def forecast_group(frame, shipped, plan, names, by, y, time, request, on_error):
    """applyInPandas: one group's rows (safe column names) -> its forecast rows."""
    import pandas as pd

    from ..formats.shapes import pandas_columns
    from ..service import Context

    _, service = served(shipped.value)
    frame = frame.set_axis(names, axis=1)
    if time is not None:
        frame = frame.sort_values(time, kind="stable")
    doc = {**request, "y": pandas_columns(frame[[y]])[y]}
    error = None
    try:
        columns = retried(service.forecast, plan.name, doc, Context("spark")).result.columns
    except BridgeError as exc:
        if on_error == "stop":
            raise stopped(exc, frame, 0, by, "series") from None
        columns, error = {}, exc.description
    n = len(next(iter(columns.values()), [None]))
    out = {f"_bridge_k{i}": pd.Series([frame[k].iloc[0]] * n, dtype=frame[k].dtype)
           for i, k in enumerate(by)}
    for i, (name, json_type) in enumerate(plan.outputs):
        out[f"_bridge_o{i}"] = typed(columns.get(name, [None] * n), json_type)
    if on_error == "reject":
        out[ERROR_COLUMN] = pd.Series([error] * n, dtype=object)
    return pd.DataFrame(out)

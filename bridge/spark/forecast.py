"""`bridge.spark.forecast`: one forecaster applied to every series of a
grouped DataFrame (applyInPandas), driver side: thousands of series from one
template model (an ets, an Arima ... fitted once), each refitted with the
template's structure and parameters, as POST /models/{name}/forecast does
with {"y": [...]}.
"""

import functools

from ..errors import InputError
from . import grouped
from .models import resolve
from .plan import ERROR_COLUMN, job_schema
from .predict import ON_ERROR, _columns, _refuse_clashes
from .probe import probe


def forecast(df, model, *, by, h=None, y="y", time=None, level=None, seed=None, args=None,
             start=None, on_error="stop", version=None, models=None, object=None, sha256=None):
    """One row per series and step: the `by` columns, then step, time, mean,
    lower_<L>, upper_<L> as R's forecast() gives them.

    y: the column of observations; time: the column that orders them
    (without it, the rows' order within a group, which Spark does not
    promise); start: the series' start time (1961 or [1961, 1]), for the
    time labels; h, level, seed, args: as the HTTP forecast request.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    names = list(df.columns)
    by = _columns([by] if isinstance(by, str) else by, names, "by")
    if not by:
        raise InputError("by: name the column(s) that tell the series apart")
    _columns([y] + ([time] if time else []), names, "y/time")
    request = {k: v for k, v in {"h": h, "level": level, "seed": seed, "args": args,
                                 "start": start}.items() if v is not None}
    bundle = resolve(model, models, version, object, sha256)
    plan = probe(bundle, ("forecast", request))
    _refuse_clashes(by, plan.output_names + [ERROR_COLUMN])
    out_names = by + plan.output_names + ([ERROR_COLUMN] if on_error == "reject" else [])
    shipped = df.sparkSession.sparkContext.broadcast(bundle)
    job = functools.partial(grouped.forecast_group, shipped=shipped, plan=plan, names=names, by=by,
                            y=y, time=time, request=request, on_error=on_error)
    safe = df.toDF(*(f"_bridge_in{i}" for i in range(len(names))))
    keys = [f"_bridge_in{names.index(k)}" for k in by]
    return safe.groupBy(*keys).applyInPandas(job, job_schema(df, by, plan, on_error)).toDF(*out_names)


"""The R side of forecasting, as seen from Python: the one place that calls
r_scripts/bridge/forecast.R. Everything here runs on the session's R thread
(RModel hands the work to it).
"""

from .convert import py2rpy_value, rpy2py_vector
from ..errors import InputError, ModelError
from ..forecast import Forecast, ForecasterInfo


def is_forecaster(session, robj):
    return bool(session.helper("bridge_is_forecaster")(robj)[0])


def read_info(session, robj):
    """ForecasterInfo from bridge_forecaster_info()."""
    fields = _fields(session.helper("bridge_forecaster_info")(robj))

    def one(name):
        values = rpy2py_vector(fields[name])
        return values[0] if values else None

    return ForecasterInfo(
        frequency=one("frequency"),
        start=one("start"),
        last_time=one("last_time"),
        n=one("n"),
        regressors=tuple(rpy2py_vector(fields["regressors"])),
        levels=tuple(rpy2py_vector(fields["levels"])),
        method=one("method"),
        args=tuple(rpy2py_vector(fields["args"])),
        function_args=tuple(rpy2py_vector(fields["function_args"])),
        can_apply=bool(one("can_apply")),
        min_length=one("min_length"),
    )


def run(model, request):
    """R's forecast for a checked ForecastRequest (bridge/forecast.py)."""
    session = model.session
    ri, h = session.ri, session.helper
    horizon = ri.NULL if request.h is None else ri.IntSexpVector([request.h])
    level = ri.NULL if request.level is None else ri.FloatSexpVector(list(request.level))
    args = ri.ListSexpVector([py2rpy_value(k, v) for k, v in request.args.items()])
    if request.args:
        args.do_slot_assign("names", ri.StrSexpVector(list(request.args)))
    seed = ri.IntSexpVector([request.seed])
    if request.series is not None:
        series = request.series
        y = ri.FloatSexpVector.from_memoryview(memoryview(series.y.data))
        start = ri.FloatSexpVector(list(series.start)) if series.start else ri.NULL
        frequency = ri.NULL if series.frequency is None else ri.FloatSexpVector([series.frequency])
        result = h("bridge_forecast_series")(model.robj, y, start, frequency, horizon, level, args, seed)
    else:
        cols, classes = ri.NULL, ri.NULL
        if request.xreg:
            cols, classes = model._frames.build(request.xreg)
        result = h("bridge_forecast")(model.robj, horizon, level, cols, classes,
                                      ri.IntSexpVector([request.xreg_rows]), args, seed)
    return _read(session, _fields(result), request.seed)


def _read(session, out, seed):
    warnings = rpy2py_vector(out["warnings"]) if "warnings" in out else []
    if "error" in out:
        message = out["error"][0]
        if out["kind"][0] == "input":
            raise InputError(f"R rejected the forecast request: {message}", r_message=message)
        raise ModelError(f"forecast() failed in R: {message}", r_message=message)
    columns = out["columns"]
    values = {name: rpy2py_vector(v) for name, v in zip(columns.names, columns)}
    return Forecast(values, bool(out["simulated"][0]), seed, warnings)


def _fields(rlist):
    return dict(zip(rlist.names, rlist))

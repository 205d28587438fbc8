"""The OpenAPI operation of a forecaster: POST /models/{name}/forecast.

Built from what the model says of itself at load (bridge/forecast.py's
ForecasterInfo and the regressor schema); bridge/openapi.py places it in the
document instead of a predict operation.
"""

from ..forecast import MAX_LEVELS
from ..formats import content_types
from .openapi_schemas import column_schema, errors, ident


def forecast_operation(model, max_horizon):
    info = model.forecaster
    regressors = model.schema.columns
    row = {"type": "object", "properties": {c.name: column_schema(c) for c in regressors},
           "required": [c.name for c in regressors]}
    xreg = {"anyOf": [
        {"title": "rows", "type": "array", "items": row, "minItems": 1},
        {"title": "columns", "type": "object",
         "properties": {c.name: {"type": "array", "items": column_schema(c)} for c in regressors},
         "required": [c.name for c in regressors]}],
        "description": "the regressors' future values, one row per step"}
    properties = {
        "h": {"type": "integer", "minimum": 1, "maximum": max_horizon,
              "description": "steps to forecast; default R's (or the number of xreg rows)"},
        "level": {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
                            {"type": "array", "minItems": 1, "maxItems": MAX_LEVELS,
                             "items": {"type": "number", "exclusiveMinimum": 0,
                                       "exclusiveMaximum": 100}}],
                  "description": "interval levels in percent (all below 1: fractions, as forecast() "
                                 f"reads them); default {list(info.levels)}"},
        "seed": {"type": "integer", "description": "seed for simulated intervals; the answer "
                                                   "reports the one used"},
        "args": {"type": "object", "description": "other arguments of R's forecast()",
                 "properties": {name: {"type": ["number", "boolean", "string", "array"]}
                                for name in info.args},
                 "additionalProperties": False},
    }
    required = []
    if regressors:
        properties["xreg"] = xreg
        required.append("xreg")
    if info.can_apply:
        properties.update({
            "y": {"type": "array", "items": {"type": ["number", "null"]}, "minItems": info.min_length,
                  "description": "apply the fitted model to this series instead (no re-estimation)"},
            "start": {"anyOf": [{"type": "number"},
                                {"type": "array", "items": {"type": "number"}, "minItems": 2,
                                 "maxItems": 2}]},
            "frequency": {"type": "number", "const": info.frequency}})
    step = {"type": "object", "required": ["step", "time", "mean"],
            "properties": {"step": {"type": "integer"}, "time": {"type": "string"},
                           "mean": {"type": ["number", "null"]}},
            "additionalProperties": {"type": ["number", "null"],
                                     "description": "lower_<level> and upper_<level>"}}
    example = {"h": 12, "level": list(info.levels)}
    if regressors:
        example = {"level": list(info.levels),
                   "xreg": {c.name: [0.0, 0.0, 0.0] for c in regressors}}
    return {
        "tags": [model.name],
        "operationId": f"forecast_{ident(model.name)}",
        "summary": f"Forecast with {model.name}",
        "description": (
            f"R class: {', '.join(model.r_class)}; frequency {info.frequency:g}, last observed "
            f"{info.last_time}. The numbers are R's own "
            f"{'forecast::forecast()' if info.method == 'forecast' else 'predict(n.ahead =)'}; "
            "`time` is written the way the series' frequency reads (see docs/forecasting.md)."
            + (f" Regressors: {', '.join(info.regressors)}." if info.regressors else "")),
        "requestBody": {"required": True, "content": {content_types("json")[0]: {
            "schema": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False},
            "example": example}}},
        "responses": {
            "200": {"description": "one entry per step", "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["model", "forecast"],
                    "properties": {"model": {"type": "string", "const": model.name},
                                   "version": {"type": "string", "description": "the version "
                                               "that answered (docs/versions.md)"},
                                   "forecast": {"type": "array", "items": step},
                                   "seed": {"type": "integer"},
                                   "warnings": {"type": "array", "items": {"type": "string"}}}}},
                # (A media type object has no description: it goes in the schema.)
                "text/csv": {"schema": {"type": "string", "description":
                                        "with `Accept: text/csv`: a header and one line per step"}}}},
            **errors()},
    }

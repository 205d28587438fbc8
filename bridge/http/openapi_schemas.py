"""OpenAPI pieces both the predict document (openapi.py) and the forecast
operation (forecast_openapi.py) are made of: a column's JSON schema, the
error responses, operation ids."""

from ..convert import INT_MAX

ERROR = {
    "type": "object",
    "required": ["title", "description"],
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
    },
    "additionalProperties": True,
}

ERROR_STATUSES = {
    "400": "Malformed request (bad JSON, CSV or shape)",
    "404": "No model of that name is served",
    "415": "Content type not accepted",
     "422": "The rows do not fit the model's inputs, or R rejected them",
    "500": "predict() failed in R, or an internal error",
    "503": "The model is not loaded",
}


def column_schema(column):
    schema = column.json_schema()
    if column.kind == "integer":
        # R integers are 32-bit; INT_MIN is NA.
        schema.update(minimum=-INT_MAX, maximum=INT_MAX)
    if column.kind == "POSIXct":
        schema["description"] = f"date-time; without an offset it is read in {column.tz or 'UTC'}"
    if column.kind == "any":
        schema["description"] = ("the model records no type for this column: send numbers, "
                                 "strings or booleans as it was trained with")
    return schema


def ident(name):
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def errors(statuses=ERROR_STATUSES, schema="#/components/schemas/Error"):
    return {status: {"description": text,
                     "content": {"application/json": {"schema": {"$ref": schema}}}}
            for status, text in statuses.items()}

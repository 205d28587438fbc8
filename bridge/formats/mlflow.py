"""MLflow's scoring input (front side): a JSON object with exactly one of
its input fields, predict() arguments in "params",

    {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
    {"dataframe_records": [{...}, ...]}
    {"instances": [{...}, ...]}      TF serving's rows (or {column: [values]})
    {"inputs": {column: [values]}}   TF serving's columns (or [{...}, ...])

or a CSV body with a header row (arguments then in the query string).
Rows then take the native JSON route's shapes (bridge/formats/json_rows.py).
"""

from ..errors import BadRequest
from . import FORM, csv_text, format_of, json_rows, media_type

INPUT_FIELDS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def parse(body, content_type, query):
    """(Table, predict args) from an MLflow scoring request."""
    if format_of(content_type, body) == "csv":
        return csv_text.parse(body), csv_text.query_args(query)
    if media_type(content_type) == FORM:
        return json_rows.parse(body)  # `curl -d`: read as the native route reads it
    doc = json_rows.load_json(body, expected="one of " + ", ".join(INPUT_FIELDS))
    if not isinstance(doc, dict):
        raise BadRequest("the body must be a JSON object with exactly one of the input fields "
                         f"{', '.join(INPUT_FIELDS)} (MLflow's scoring format)")
    fields = [f for f in INPUT_FIELDS if f in doc]
    if len(fields) != 1:
        raise BadRequest(f"the body must hold exactly one of the input fields {', '.join(INPUT_FIELDS)}; "
                         f"got {sorted(doc)[:10]}")
    field, params = fields[0], doc.get("params") or {}
    if field in ("instances", "inputs"):
        data = doc[field]
        if isinstance(data, list) and data and not all(isinstance(row, dict) for row in data):
            raise BadRequest(f"'{field}' rows must be objects naming their columns, or one object of "
                             "column arrays: an R model's inputs are named (dataframe_split takes "
                             "rows of bare values with a list of columns)")
        doc = {"data": data, "args": params}
    else:
        doc = {field: doc[field], "params": params}
    return json_rows.from_document(doc)

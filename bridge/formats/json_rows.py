"""JSON bodies of rows (front side): a JSON array of row objects, or
{"data": rows | {column: [values]}, "args": {...}}, or MLflow's
{"dataframe_split": {"columns": [...], "data": [[...]]}} or
{"dataframe_records": [...]} with "params" as args."""

import orjson

from ..errors import BadRequest
from ..table import Table
from . import fast_rows
from .shapes import refuse_duplicates, rows_to_columns


def load_json(body, what="the body", expected='JSON rows or {"data": ...}'):
    """A JSON document, or a 400 saying what was wrong with it."""
    if not body:
        raise BadRequest(f"the request body is empty; send {expected}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}")


def parse(body):
    """(Table, predict args) of a JSON body. A large body of plain rows is
    read straight into columns (fast_rows.py: the same Table, or it declines)."""
    fast = fast_rows.columns(body)
    if fast is not None:
        return fast
    return from_document(load_json(body))


def from_document(doc):
    """(Table, predict args) of a decoded JSON body."""
    args = {}
    if isinstance(doc, dict):
        args = doc.get("args", doc.get("params", {}))
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise BadRequest("'args' must be a JSON object of predict() arguments")
        if "data" in doc:
            doc = doc["data"]
        elif "dataframe_split" in doc:
            return _split(doc["dataframe_split"]), args
        elif "dataframe_records" in doc:
            doc = doc["dataframe_records"]
        else:
            raise BadRequest(
                "expected a JSON array of rows, or an object with 'data', 'dataframe_split' "
                f"or 'dataframe_records'; got an object with keys {sorted(doc)[:10]}")
    if isinstance(doc, list):
        return Table(rows_to_columns(doc), len(doc)), args
    if isinstance(doc, dict):
        return columns_table(doc), args
    raise BadRequest("'data' must be an array of row objects or an object of column arrays")


def columns_table(doc, what="column"):
    """{name: [values]} -> Table, every array the same length (`what` names
    them in errors: "column", "xreg column")."""
    lengths = set()
    for name, values in doc.items():
        if not isinstance(values, list):
            raise BadRequest(f"{what} {name!r}: expected an array of values", column=name)
        lengths.add(len(values))
    if len(lengths) > 1:
        raise BadRequest(f"{what}s have different lengths: {sorted(lengths)}")
    return Table(dict(doc), lengths.pop() if lengths else 0)


def _split(split):
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list) \
            or not isinstance(split.get("data"), list):
        raise BadRequest("'dataframe_split' needs 'columns' (array) and 'data' (array of rows)")
    names = [str(name) for name in split["columns"]]
    refuse_duplicates(names)
    width = len(names)
    for i, row in enumerate(split["data"]):
        if not isinstance(row, list) or len(row) != width:
            raise BadRequest(f"dataframe_split row {i + 1}: expected an array of {width} values",
                             row=i + 1)
    columns = {name: [row[j] for row in split["data"]] for j, name in enumerate(names)}
    return Table(columns, len(split["data"]))

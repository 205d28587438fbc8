"""Request bodies -> (Table, predict args). Knows the accepted formats, not HTTP.

Accepted:
- a JSON array of row objects;
- {"data": rows | {column: [values]}, "args": {...}};
- MLflow: {"dataframe_split": {"columns": [...], "data": [[...]]}} or
  {"dataframe_records": [...]}, with optional "params" as args;
- text/csv with a header row (args from the query string are the caller's job).
"""

import csv
import io

import orjson

from .errors import BadRequest, UnsupportedMediaType
from .table import Table

JSON_TYPES = ("application/json", "application/*+json")
CSV_TYPES = ("text/csv", "application/csv")


def media_type(content_type):
    """The media type of a Content-Type header, lower case, without parameters
    (no header: JSON)."""
    return (content_type or "application/json").split(";")[0].strip().lower()


def parse(body, content_type):
    media = media_type(content_type)
    if media in CSV_TYPES:
        return parse_csv(body), {}
    if media == "application/json" or media.endswith("+json"):
        return parse_json(body)
    if media == "application/x-www-form-urlencoded" and body.lstrip()[:1] in (b"[", b"{"):
        # `curl -d` labels JSON as a form; read it as what it is.
        return parse_json(body)
    raise UnsupportedMediaType(
        f"content type {media!r} is not accepted; send application/json or text/csv",
        content_type=media)


def load_json(body, what="the body", expected='JSON rows or {"data": ...}'):
    """A JSON document, or a 400 saying what was wrong with it."""
    if not body:
        raise BadRequest(f"the request body is empty; send {expected}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}")


def parse_json(body):
    doc = load_json(body)
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
        return _records(doc), args
    if isinstance(doc, dict):
        return columns_table(doc), args
    raise BadRequest("'data' must be an array of row objects or an object of column arrays")


def _records(rows):
    """Row objects -> columns. A key absent from a row is NA there (as
    jsonlite writes NA); a key absent from every row is a missing column."""
    if not all(type(row) is dict for row in rows):
        i = next(i for i, row in enumerate(rows) if type(row) is not dict)
        raise BadRequest(f"row {i + 1} is not a JSON object", row=i + 1)
    # Column order: the first row's, then keys only later rows have. The key
    # union is taken in C, which matters for 100,000-row requests.
    names = dict.fromkeys(rows[0]) if rows else {}
    names.update(dict.fromkeys(sorted(set().union(*rows) - names.keys())))
    columns = {}
    for name in names:
        try:
            columns[name] = [row[name] for row in rows]
        except KeyError:
            columns[name] = [row.get(name) for row in rows]
    return Table(columns, len(rows))


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
    _refuse_duplicates(names)
    width = len(names)
    for i, row in enumerate(split["data"]):
        if not isinstance(row, list) or len(row) != width:
            raise BadRequest(f"dataframe_split row {i + 1}: expected an array of {width} values",
                             row=i + 1)
    columns = {name: [row[j] for row in split["data"]] for j, name in enumerate(names)}
    return Table(columns, len(split["data"]))


def parse_csv(body):
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the CSV body is not UTF-8: {exc}")
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise BadRequest("the CSV body is empty; send a header row and data rows")
    except csv.Error as exc:
        raise BadRequest(f"malformed CSV: {exc}")
    _refuse_duplicates(header)
    rows = []
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise BadRequest(f"CSV line {reader.line_num}: expected {len(header)} fields, "
                                 f"got {len(row)}", line=reader.line_num)
            rows.append(row)
    except csv.Error as exc:
        raise BadRequest(f"malformed CSV: {exc}")
    columns = {name: [row[j] for row in rows] for j, name in enumerate(header)}
    return Table(columns, len(rows), text=True)


def _refuse_duplicates(names):
    seen = set()
    for name in names:
        if name in seen:
            raise BadRequest(f"column {name!r} appears twice; column names must be unique", column=name)
        seen.add(name)


def query_args(params):
    """predict() arguments from a query string (for CSV bodies): each value is
    read as JSON when it is JSON (0.01, true, [1,2]), else kept as text."""
    args = {}
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        parsed = []
        for text in values:
            try:
                parsed.append(orjson.loads(text))
            except orjson.JSONDecodeError:
                parsed.append(text)
        args[name] = parsed[0] if len(parsed) == 1 else parsed
    return args

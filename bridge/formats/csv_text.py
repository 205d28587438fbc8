"""CSV bodies (front side): a header row and data rows, every value text to
be parsed by the column's own type (bridge/convert.py); predict() arguments
then come from the query string."""

import csv
import io

import orjson

from ..errors import BadRequest
from ..table import Table
from .shapes import refuse_duplicates


def parse(body):
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
    refuse_duplicates(header)
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

"""Answers as CSV (predictions, forecasts), for callers that send `Accept: text/csv`."""

import csv
import io


def csv_cell(value):
    """R's spelling: NA for missing, TRUE/FALSE, shortest round-trip floats."""
    if value is None:
        return "NA"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, float):
        return repr(value) if value == value else "NaN"
    return value


def prediction_csv(prediction):
    """A header and one line per row: `prediction` for a vector, else one
    column per output column."""
    return columns_csv(prediction.columns)


def columns_csv(columns):
    """{name: [values]} as CSV bytes: a header and one line per row (predictions
    and forecasts alike)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(columns))
    for row in zip(*columns.values()):
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue().encode("utf-8")

"""Predictions as CSV, for callers that send `Accept: text/csv`."""

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
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(prediction.columns)
    writer.writerow(names)
    for row in zip(*prediction.columns.values()):
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue().encode("utf-8")

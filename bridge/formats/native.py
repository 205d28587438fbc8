"""The native predict route's bodies: JSON (bridge/formats/json_rows.py) or
CSV (bridge/formats/csv_text.py), chosen by the one content-type
negotiation (bridge/formats/__init__.py)."""

from . import csv_text, json_rows
from . import format_of


def parse(body, content_type, fmt=None):
    """(Table, predict args); a CSV body's args are the caller's (the query string).
    `fmt`: the format already negotiated (detect()), or None to negotiate here."""
    if (fmt or format_of(content_type, body)) == "csv":
        return csv_text.parse(body), {}
    return json_rows.parse(body)

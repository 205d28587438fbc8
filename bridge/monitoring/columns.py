"""The prefixes of a prediction-log record's input and output columns: the
log writer (records.py) and the readers (offline.py) share them, and the
readers must import without pyarrow (a client install has none)."""

INPUT, OUTPUT = "in.", "out."

"""The prefixes of a prediction-log record's input and output columns: the
log writer (records.py) and the readers (offline.py) share them, and the
readers must import without pyarrow (a client install has none). Also the
folder of the log's union schema (union.py), which holds no model's rows."""

INPUT, OUTPUT = "in.", "out."
UNION_FOLDER = "!schema"

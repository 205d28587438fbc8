"""File formats by extension, and the error a scoring run stops with.

Runs in the `bridge predict` / `bridge forecast` process (no R needed here).
"""

from pathlib import Path


class ScoringError(Exception):
    """A scoring run cannot go on (a bad file, option or answer); the command
    prints it and exits 1."""


FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}


def file_format(path):
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ScoringError(f"{path}: unknown file type; use one of {', '.join(sorted(FORMATS))}")
    return fmt

"""File scoring, `bridge predict`: a file of rows in, the same rows with R's
predictions out (docs in command.py, the command itself).

Not micro-batching (that is bridge/workers/dispatcher.py): this is a client
of a model, run in its own process. One module per part: `files` (file
types, ScoringError), `readers`, `writers`, `scorers` (a local model file or
a served model), `tolerant` (rows that fail set aside), `run` (the loop,
checkpoints, resume), `command` (the command line).
"""

from .command import add_parser, main
from .run import score_file
from .scorers import scorer_for

__all__ = ["score_file", "scorer_for", "main", "add_parser"]

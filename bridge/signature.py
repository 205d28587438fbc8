"""What a model takes and gives back, for documents that describe it
(OpenAPI, the Open Inference Protocol's metadata).

Inputs come from the model's schema. Outputs are not recorded anywhere in an
R model, so they are found the way a user would: by predicting one example
row, built from the schema (never from training data), once per file
version, by the R worker that loads it first (the others load it without:
bridge/workers/messages.py Load); metadata requests never run model code.

Shared code: the probe runs in the R worker (bridge/r/model.py), the front
only reads the result.
"""

import dataclasses
import logging

from .errors import BridgeError

log = logging.getLogger(__name__)

# One valid value per column kind; factors take their first level.
EXAMPLE_VALUES = {
    "numeric": 1.5,
    "integer": 1,
    "logical": True,
    "character": "a",
    "Date": "2024-01-31",
    "POSIXct": "2024-01-31T12:00:00Z",
    "any": 1,
}


def example_value(column):
    if column.kind in ("factor", "ordered"):
        return column.levels[0] if column.levels else None
    return EXAMPLE_VALUES[column.kind]


def example_row(schema):
    return {c.name: example_value(c) for c in schema.columns}


@dataclasses.dataclass(frozen=True)
class Output:
    """One output column: its name and the JSON type of its values."""

    name: str
    type: str  # "number" | "integer" | "boolean" | "string"


@dataclasses.dataclass(frozen=True)
class Signature:
    example: dict
    # None when the example could not be predicted: the output is unknown.
    kind: str = None
    outputs: tuple = ()
    example_predictions: list = None


def json_type(values):
    """The JSON type of a column of R results (None stands for NA)."""
    types = {type(v) for v in values if v is not None}
    if types == {bool}:
        return "boolean"
    if types == {int}:
        return "integer"
    if types and types <= {int, float}:
        return "number"
    if types == {str}:
        return "string"
    # All NA (or empty): R gave no type we can see; a number is R's default.
    return "number" if not types else "string"


def signature(model):
    """The model's Signature, found once when the model was loaded."""
    return model.signature


def probe_signature(model):
    """Predicts the example rows (in the R worker, at load)."""
    from .table import Table

    row = example_row(model.schema)
    # Two rows, not one: with one row, R's per-call parts of a result (a
    # list's df, say) have a row's length and would pass for columns.
    table = Table({name: [value, value] for name, value in row.items()}, 2)
    try:
        prediction = model.predict_table(table, {})
    except BridgeError as exc:
        log.info("model %s: example row not predicted (%s); its output stays undocumented",
                 model.name, exc.description)
        return Signature(row)
    outputs = tuple(Output(name, json_type(values)) for name, values in prediction.columns.items())
    return Signature(row, prediction.kind, outputs, prediction.records()[:1])

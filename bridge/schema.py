"""What a model expects as input: one typed Column per input variable.

Shared code (no rpy2, no falcon): an R worker builds a Schema once at load
(bridge/r/schema.py reads it from R), it crosses the pipe in the model's
front view, and the front checks every request against it.
"""

import dataclasses
import functools
import hashlib

KINDS = ("numeric", "integer", "logical", "character", "factor", "ordered", "Date", "POSIXct", "any")

# JSON Schema of each kind, for metadata and OpenAPI.
JSON_TYPES = {
    "numeric": {"type": "number"},
    "integer": {"type": "integer"},
    "logical": {"type": "boolean"},
    "character": {"type": "string"},
    "factor": {"type": "string"},
    "ordered": {"type": "string"},
    "Date": {"type": "string", "format": "date"},
    "POSIXct": {"type": "string", "format": "date-time"},
    "any": {},
}


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    kind: str
    levels: tuple = ()
    tz: str = ""

    def __post_init__(self):
        assert self.kind in KINDS, self.kind
        if self.levels:
            # Built once here, so the request path looks levels up in O(1).
            object.__setattr__(self, "codes", {lev: i + 1 for i, lev in enumerate(self.levels)})

    def describe(self):
        out = {"name": self.name, "type": self.kind, "required": True}
        if self.kind in ("factor", "ordered"):
            out["levels"] = list(self.levels)
        elif self.levels:
            # A factor the model takes any label for: its training levels, and the others.
            out["levels"] = list(self.levels)
            out["other_labels"] = True
        if self.kind == "POSIXct":
            out["tz"] = self.tz or "UTC"
        return out

    def json_schema(self):
        schema = dict(JSON_TYPES[self.kind])
        if self.kind in ("factor", "ordered"):
            schema["enum"] = list(self.levels)
        # A JSON null is always accepted and becomes NA.
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
        return schema


@dataclasses.dataclass(frozen=True)
class Schema:
    columns: tuple
    source: str
    # Strings sent for untyped columns would be coded against the request's
    # own levels (R's default factor coding): refuse them rather than mis-predict.
    strings_unsafe: bool = False
    # Columns the model knows are factors but keeps no levels for: no value
    # can be coded the way it was in training.
    untyped_factors: frozenset = frozenset()
    # Said after a missing-column error when the model's inputs are not the
    # columns a caller has (glmnet on a model.matrix: its columns, cyl6, ...).
    missing_note: str = ""
    # (columns, argument, value): with that predict() argument at that value
    # R answers a level of these factors it never saw as it answers NA (the
    # population level of a random effect: lme4's allow.new.levels = TRUE,
    # nlme's level = 0), so such a level is sent as NA, not refused.
    new_levels: tuple = ()
    # Columns passed on to R when a request has them, not asked for
    # otherwise (coxph's time and status, read for type = "expected").
    optional: tuple = ()

    def open_factors(self, args):
        """The factor columns whose unseen levels go to R as NA for these args."""
        return frozenset(name for columns, argument, value in self.new_levels
                         if argument in args and _same_value(args[argument], value)
                         for name in columns)

    @functools.cached_property
    def known(self):
        """The column names a request may send: the inputs and the optional ones."""
        return frozenset(c.name for part in (self.columns, self.optional) for c in part)

    @property
    def complete(self):
        return all(c.kind != "any" for c in self.columns)

    @functools.cached_property
    def digest(self):
        """A short fingerprint of the columns, the same in every process (the
        repr of frozen dataclasses of str and tuples): the front and an R
        worker compare it before a column crosses the pipe as its position
        (bridge/workers/messages.py)."""
        return hashlib.blake2b(repr(self.columns).encode(), digest_size=8).digest()

    @property
    def names(self):
        return [c.name for c in self.columns]

    def describe(self):
        return {
            "source": self.source,
            "complete": self.complete,
            "note": None if self.complete else (
                "This model does not record the type of every input: columns of type "
                "'any' take plain JSON typing. Attach a prototype with "
                "r_scripts/ptype.R (attach_ptype) to have them checked."),
            "columns": [{**c.describe(), **({"note": "a factor whose levels the model does not record"}
                                            if c.name in self.untyped_factors else {}),
                         **self._new_levels_of(c.name)}
                        for c in self.columns] + [
                {**c.describe(), "required": False,
                 "note": "read by predict() for some arguments only; passed on when sent"}
                for c in self.optional],
        }

    def _new_levels_of(self, name):
        rules = {argument: value for columns, argument, value in self.new_levels if name in columns}
        return {"new_levels_with": rules} if rules else {}


def _same_value(sent, value):
    """A JSON argument equal to a rule's R value: true is not 1, nor 0 false."""
    if isinstance(value, bool) or isinstance(sent, bool):
        return sent is value
    return isinstance(sent, (int, float)) and sent == value

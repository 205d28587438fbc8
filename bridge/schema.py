"""What a model expects as input: one typed Column per input variable.

Built once at load from the prototypes that r_scripts/bridge.R derives from
the model object (terms, dataClasses, xlevels, stored model frame, forest
variable info, or an attached `ptype`).
"""

import dataclasses

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

    @property
    def complete(self):
        return all(c.kind != "any" for c in self.columns)

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
                                            if c.name in self.untyped_factors else {})}
                        for c in self.columns],
        }


def column_from_prototype(name, proto):
    """Reads one zero-length R vector (or NULL) into a Column."""
    import rpy2.rinterface as ri

    if proto is ri.NULL:
        return Column(name, "any")
    classes = tuple(proto.rclass)
    if "factor" in classes:
        levels = tuple(proto.do_slot("levels"))
        return Column(name, "ordered" if "ordered" in classes else "factor", levels)
    if "Date" in classes:
        return Column(name, "Date")
    if "POSIXct" in classes:
        try:
            tz = proto.do_slot("tzone")[0]
        except LookupError:
            tz = ""
        return Column(name, "POSIXct", tz=tz)
    by_type = {
        ri.RTYPES.REALSXP: "numeric",
        ri.RTYPES.INTSXP: "integer",
        ri.RTYPES.LGLSXP: "logical",
        ri.RTYPES.STRSXP: "character",
    }
    plain = set(classes) <= {"numeric", "integer", "logical", "character", "AsIs"}
    return Column(name, by_type.get(proto.typeof, "any") if plain else "any")


def schema_from_r(inputs):
    """Schema from the list that bridge_inputs() returns in R."""
    import rpy2.rinterface as ri

    fields = dict(zip(inputs.names, inputs))
    protos = fields["columns"]
    names = list(protos.names) if protos.names is not ri.NULL else []
    columns = tuple(column_from_prototype(n, p) for n, p in zip(names, protos))
    unsafe = "strings_unsafe" in fields and bool(fields["strings_unsafe"][0])
    untyped = frozenset(fields["untyped_factors"]) if "untyped_factors" in fields else frozenset()
    # No inputs found at all: the request's columns are passed through as sent.
    source = str(fields["source"][0]) if columns else "none"
    return Schema(columns, source, unsafe, untyped)

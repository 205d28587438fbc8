"""A model's Schema (bridge/schema.py) read from the prototypes that
r_scripts/bridge/inputs.R derives from the model object (terms, dataClasses,
xlevels, stored model frame, forest variable info, or an attached `ptype`).

Runs inside an R worker (or the Python API's process), once per model load.
"""

import rpy2.rinterface as ri

from ..schema import Column, Schema


def column_from_prototype(name, proto):
    """Reads one zero-length R vector (or NULL) into a Column."""
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
    if plain and proto.typeof == ri.RTYPES.STRSXP:
        # Labels a model takes beyond its training levels (a recipe's
        # step_novel/step_other): those levels, which numbers may name.
        try:
            return Column(name, "character", tuple(proto.do_slot("levels")))
        except LookupError:
            pass
    return Column(name, by_type.get(proto.typeof, "any") if plain else "any")


def schema_from_r(inputs):
    """Schema from the list that bridge_inputs() returns in R."""
    fields = dict(zip(inputs.names, inputs))
    protos = fields["columns"]
    names = list(protos.names) if protos.names is not ri.NULL else []
    columns = tuple(column_from_prototype(n, p) for n, p in zip(names, protos))
    unsafe = "strings_unsafe" in fields and bool(fields["strings_unsafe"][0])
    untyped = frozenset(fields["untyped_factors"]) if "untyped_factors" in fields else frozenset()
    # No inputs found at all: the request's columns are passed through as sent.
    source = str(fields["source"][0]) if columns else "none"
    note = str(fields["missing_note"][0]) if "missing_note" in fields else ""
    rules = tuple(_new_level_rule(r) for r in fields["new_levels"]) if "new_levels" in fields else ()
    optional = ()
    if "optional" in fields and fields["optional"].names is not ri.NULL:
        optional = tuple(column_from_prototype(n, p) for n, p in zip(fields["optional"].names, fields["optional"]))
    return Schema(columns, source, unsafe, untyped, note, rules, optional)


def _new_level_rule(rule):
    """(columns, argument, value) from inputs.R's list(columns, argument, value)."""
    part = dict(zip(rule.names, rule))
    value = part["value"][0]
    if part["value"].typeof == ri.RTYPES.LGLSXP:
        value = bool(value)
    elif float(value).is_integer():
        value = int(value)  # level = 0, shown as JSON's 0
    return tuple(part["columns"]), str(part["argument"][0]), value

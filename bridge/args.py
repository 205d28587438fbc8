"""The predict() arguments a caller may pass: an allow-list, typed as data.

The R side (r_scripts/bridge/args.R) reads the formals of the predict
method that will actually run for a model, once at load, and says which a
caller may set (and what their defaults say about their type) and which it
may not (the data, `...`, and every argument R uses as a function, formula
or environment: `na.action = "system2"` would run a shell command). This
module holds that answer and checks each request against it before any
value goes near R. It knows nothing of R or HTTP.

Shared code: an R worker builds the ArgSpec at load, it crosses the pipe
in the model's front view, and the front checks requests against it.
"""

import dataclasses
import reprlib

from .errors import BadRequest, InputError
from .suggest import hint

SCALARS = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class Arg:
    name: str
    type: str = "any"       # any | boolean | number | string
    choices: tuple = ()     # for a string whose default lists them: c("response", "terms")

    def describe(self):
        out = {"name": self.name, "type": self.type}
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@dataclasses.dataclass(frozen=True)
class ArgSpec:
    method: str = ""
    accepted: dict = dataclasses.field(default_factory=dict)   # name -> Arg
    refused: dict = dataclasses.field(default_factory=dict)    # name -> reason

    @classmethod
    def from_table(cls, method, names, accepted, types, reasons, choices):
        """From the flat vectors of bridge_arg_table()."""
        ok, no = {}, {}
        for name, is_ok, kind, reason, options in zip(names, accepted, types, reasons, choices):
            if is_ok:
                ok[name] = Arg(name, kind, tuple(options))
            else:
                no[name] = reason
        return cls(method, ok, no)

    def describe(self):
        return {"method": self.method,
                "accepted": [a.describe() for a in self.accepted.values()],
                "refused": dict(self.refused)}

    def check(self, args):
        """Raises a 4xx unless every argument is accepted and plain data of its type."""
        if not isinstance(args, dict):
            raise BadRequest("'args' must be a JSON object of predict() arguments")
        for name, value in args.items():
            self._check_name(name)
            _check_value(self.accepted[name], value)

    def _check_name(self, name):
        if name in self.accepted:
            return
        method = self.method or "this model's predict()"
        accepted = list(self.accepted)
        listed = ", ".join(repr(n) for n in accepted) if accepted else "none"
        if name in self.refused:
            raise InputError(f"argument {name!r} is not accepted by {method}: {self.refused[name]}. "
                             f"Accepted arguments: {listed}",
                             argument=name, accepted_arguments=accepted)
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InputError(f"unknown argument {shown!r} for {method}{hint(name, accepted)}. "
                         f"Accepted arguments: {listed}",
                         argument=shown, accepted_arguments=accepted)


def _check_value(arg, value):
    values = value if isinstance(value, list) else [value]
    if value is None:
        return
    if not values or not all(type(v) in SCALARS for v in values):
        raise InputError(f"argument {arg.name!r}: expected a string, number or boolean, or a list "
                         f"of one kind of those; got {_json(value)}", argument=arg.name)
    if arg.type == "boolean" and (isinstance(value, list) or type(value) is not bool):
        raise InputError(f"argument {arg.name!r}: expected true or false, got {_json(value)}",
                         argument=arg.name)
    if arg.type == "number" and not all(type(v) in (int, float) for v in values):
        raise InputError(f"argument {arg.name!r}: expected a number, got {_json(value)}",
                         argument=arg.name)
    if arg.type == "string":
        if not all(type(v) is str for v in values):
            raise InputError(f"argument {arg.name!r}: expected a string, got {_json(value)}",
                             argument=arg.name)
        for v in values:
            if arg.choices and v not in arg.choices:
                raise InputError(
                    f"argument {arg.name!r}: {_json(v)} is not one of "
                    f"{', '.join(repr(c) for c in arg.choices)}{hint(v, arg.choices)}",
                    argument=arg.name, allowed_values=list(arg.choices))


def _json(value):
    """A value as the caller wrote it (JSON spelling), bounded."""
    import orjson

    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = reprlib.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."

"""The arguments a model's predict() takes, for documents that describe it
(the OpenAPI document's `args` and query parameters).

R knows them: r_scripts/bridge/formals.R lists the formals of the predict()
method R dispatches to, typed from their defaults (a `c("a", "b")` default
is a choice, match.arg's convention), leaving out `...`, the arguments the
bridge sets itself and those whose default is R code. They are asked for
once per loaded model. This module only describes; which arguments a
request may pass is decided where requests are checked.
"""

import dataclasses
import logging
import threading
import weakref

import orjson

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Arg:
    name: str
    type: str                  # "boolean" | "integer" | "number" | "string" | "any"
    enum: tuple = ()
    default: object = None     # None: no default a caller can see (NULL, missing, NA)
    array: bool = False        # a vector of `type` (its default is one: c(0.1, 0.5))

    def json_schema(self):
        if self.type == "any":
            schema = {"type": ["string", "number", "boolean", "array"]}
        elif self.array:
            schema = {"type": "array", "items": {"type": self.type}, "minItems": 1}
        else:
            schema = {"type": self.type}
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.default is not None:
            schema["default"] = self.default
        return schema


_cache = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def predict_args(model):
    """The model's predict() arguments as Args, found once per loaded model."""
    with _lock:
        found = _cache.get(model)
        if found is None:
            found = _cache[model] = _ask_r(model)
        return found


def _ask_r(model):
    if model.sidecar.predict_fn is not None:
        # A custom predict_fn's own arguments are R code we do not read here.
        return ()
    from .model import RESERVED_ARGS

    session = model.session

    def formals():
        ri = session.ri
        text = session.helper("bridge_predict_formals")(
            model.robj, ri.StrSexpVector(sorted(RESERVED_ARGS)))
        return text[0]

    try:
        described = orjson.loads(session.run(formals))
    except Exception as exc:  # a document without args beats no document
        log.warning("model %s: predict() arguments not described: %s", model.name, exc)
        return ()
    # jsonlite writes a one-level choice as a bare string.
    return tuple(Arg(d["name"], d["type"], _as_tuple(d.get("enum", ())), d.get("default"),
                     bool(d.get("array")))
                 for d in described)


def _as_tuple(value):
    return (value,) if isinstance(value, str) else tuple(value)

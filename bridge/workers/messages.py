"""The messages that cross an R worker's pipe, both ways.

Everything is pickled through multiprocessing's Connection. Columns travel
as the numpy buffers the front prepared (bridge/convert.py), so a request's
values are never turned into one Python object each on the way down.
Errors cross as (class name, description, details): exceptions with extra
fields do not survive pickling.
"""

import dataclasses

from .. import errors


@dataclasses.dataclass
class Ready:
    """worker -> front, once R is up."""
    pid: int
    r_version: str


@dataclasses.dataclass
class Load:
    """front -> worker: read a model file (a private snapshot of it)."""
    file_id: str
    path: str


@dataclasses.dataclass
class Unload:
    file_id: str


@dataclasses.dataclass
class Predict:
    """front -> worker: one R call for one or more requests with the same
    model, arguments and column types. items: [(prepared, nrows, args, caller)]."""
    file_id: str
    name: str
    items: list


@dataclasses.dataclass
class PlumberCall:
    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    server: dict


@dataclasses.dataclass
class PlumberInfo:
    """front -> worker: which routes the loaded Plumber files serve, checked
    against the bridge's own route templates."""
    templates: list


@dataclasses.dataclass
class Reply:
    """worker -> front: `value`, or `error` as (class name, description, details)."""
    value: object = None
    error: tuple = None

    def unwrap(self):
        if self.error is not None:
            raise error_from_wire(self.error)
        return self.value


def error_to_wire(exc):
    if isinstance(exc, errors.BridgeError):
        return (type(exc).__name__, exc.description, exc.details)
    return ("BridgeError", f"{type(exc).__name__} in the R worker: {exc}", {})


def error_from_wire(wire):
    name, description, details = wire
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.BridgeError)):
        cls = errors.BridgeError
    exc = cls.__new__(cls)
    errors.BridgeError.__init__(exc, description, **details)
    return exc

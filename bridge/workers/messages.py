"""The messages that cross an R worker's pipe, both ways.

Everything is pickled (the C pickler, protocol 5) and framed by
multiprocessing's Connection: `send` and `receive` below are the only way
onto the pipe. Columns travel as the numpy buffers the front prepared
(bridge/convert.py), so a request's values are never turned into one Python
object each on the way down.
Errors cross as (class name, description, details) of the bridge's own
tree (bridge/errors.py; exceptions with extra fields do not survive
pickling): the worker knows nothing of HTTP, the front maps them.
"""

import dataclasses
import pickle

from .. import errors


def send(conn, message):
    # NOTE: not conn.send(): its ForkingPickler (a Python subclass with a
    # reducer table) cost ~12% of the front's CPU per single-row request.
    conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def receive(conn):
    return pickle.loads(conn.recv_bytes())


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
    model, arguments and column types. What they share crosses once
    (`columns`: schema.Column per input, `args`, `caller`); each request is
    (its column buffers, its row count)."""
    file_id: str
    name: str
    columns: tuple
    args: dict
    caller: tuple
    requests: list

    @classmethod
    def of(cls, file_id, name, items):
        """From [(prepared, nrows, args, caller)] of one batch key."""
        _, _, args, caller = items[0]
        columns = tuple(p.column for p in items[0][0])
        return cls(file_id, name, columns, args, caller,
                   [([p.data for p in prepared], nrows) for prepared, nrows, _, _ in items])

    def items(self):
        from ..convert import Prepared

        return [([Prepared(c, d) for c, d in zip(self.columns, data)], nrows, self.args, self.caller)
                for data, nrows in self.requests]


@dataclasses.dataclass
class Forecast:
    """front -> worker: a checked ForecastRequest (bridge/forecast.py) for one model."""
    file_id: str
    name: str
    request: object


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

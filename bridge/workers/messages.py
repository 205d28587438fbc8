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

import copyreg
import dataclasses
import io
import pickle

import numpy as np

from .. import errors


def send(conn, message):
    # NOTE: not conn.send(): its ForkingPickler (a Python subclass with a
    # reducer table) cost ~12% of the front's CPU per single-row request.
    conn.send_bytes(dumps(message))


def receive(conn):
    return loads(conn.recv_bytes())


def dumps(message):
    """The C pickler with one table entry of our own: numpy vectors."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _WIRE
    pickler.dump(message)
    return out.getbuffer()


loads = pickle.loads


def _reduce_array(arr):
    """A plain 1-d vector as its dtype and bytes.

    NOTE: numpy's own reduce (Python code, dtype and flags objects) cost
    17 us to pickle and 18 us to unpickle a one-value vector, against 0.1 us
    and 1.6 us for bytes + np.frombuffer: 0.1 ms per single-row request of
    three columns, both ways. The vector that arrives is read-only (a view
    of the message's bytes); every reader here copies or only reads.
    """
    if arr.nbytes <= _SMALL and arr.ndim == 1 and arr.dtype.char in _PLAIN and arr.flags.c_contiguous:
        return np.frombuffer, (arr.tobytes(), arr.dtype.char)
    return arr.__reduce_ex__(pickle.HIGHEST_PROTOCOL)


# Larger vectors: numpy's reduce, whose fixed cost is nothing beside their
# bytes, and which writes them without the extra copy tobytes() makes.
_SMALL = 64 * 1024
_PLAIN = frozenset("dil?")   # float64, int32, int64, bool: what the bridge's buffers are
_WIRE = {**copyreg.dispatch_table, np.ndarray: _reduce_array}


@dataclasses.dataclass
class Ready:
    """worker -> front, once R is up."""
    pid: int
    r_version: str


@dataclasses.dataclass
class Load:
    """front -> worker: read a model file (a private snapshot of it).
    `probe`: predict its example rows (bridge/signature.py). Only the first
    load of a file version does: the front keeps that worker's answer, and
    the other workers (and every worker started later) load it without."""
    file_id: str
    path: str
    probe: bool = True


@dataclasses.dataclass
class Unload:
    file_id: str


@dataclasses.dataclass
class Predict:
    """front -> worker: one R call for one or more requests with the same
    model, arguments and column types. What they share crosses once
    (`columns`, `args`, `caller`); each request is (its column buffers, its
    row count).

    A column typed by the model's schema crosses as its position in that
    schema: the worker read the same schema when it loaded this file version
    (`file_id` names the snapshot, so a new version or a restarted worker,
    which loads the file again, has its own), and `schema` (Schema.digest)
    says which one the front checked the request against. Only columns typed
    per request (kind "any" in the schema) cross as schema.Column."""
    file_id: str
    name: str
    columns: tuple
    args: dict
    caller: tuple
    requests: list
    schema: bytes = b""

    @classmethod
    def of(cls, file_id, name, items, schema=None):
        """From [(prepared, nrows, args, caller)] of one batch key, checked
        against `schema` (the model's schema.Schema as the front has it)."""
        _, _, args, caller = items[0]
        known = schema.columns if schema is not None else ()
        columns = tuple(i if i < len(known) and p.column is known[i] else p.column
                        for i, p in enumerate(items[0][0]))
        return cls(file_id, name, columns, args, caller,
                   [([p.data for p in prepared], nrows) for prepared, nrows, _, _ in items],
                   schema.digest if schema is not None else b"")

    def items(self, schema=None):
        """The requests as [(prepared, nrows, args, caller)], with the
        columns sent by position read from `schema` (the worker's own)."""
        from ..convert import Prepared

        columns = self.columns
        if any(type(c) is int for c in columns):
            if schema is None or schema.digest != self.schema:
                raise errors.BridgeError(
                    "the R worker's schema of this model differs from the one the request was "
                    "checked against (the same file version read twice gave two schemas)")
            columns = tuple(schema.columns[c] if type(c) is int else c for c in columns)
        return [([Prepared(c, d) for c, d in zip(columns, data)], nrows, self.args, self.caller)
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

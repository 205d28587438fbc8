"""What the front holds of things that live in R workers.

`ServedModel` looks like a model to the HTTP side (name, schema, describe(),
predict_table()), but it is a view: everything it knows came from the R
worker that loaded the file (bridge/r/model.py `front_view`), and its
predictions are checked and encoded here, then sent to the pool.
`RemotePlumber` does the same for the Plumber files the workers host.
"""

import orjson

from ..prediction import EMPTY
from ..table import nrows_of, prepare_table
from .messages import PlumberCall, PlumberInfo


class ServedModel:
    def __init__(self, pool, file_id, path, view, default_timeout):
        self.pool = pool
        self.file_id = file_id
        self.path = path
        self._summary = view["summary"]
        self._describe = view["describe"]
        self.name = self._summary["name"]
        self.object_name = self._summary["object"]
        self.r_class = self._summary["class"]
        self.schema = view["schema"]
        self.arg_spec = view["arg_spec"]
        self.default_args = view["default_args"]
        self.signature = view["signature"]
        self.batching = view["batching"]
        self.description = view["description"]
        self.version = view["version"]
        self.timeout = view["timeout"] or default_timeout

    def summary(self):
        return dict(self._summary)

    def describe(self):
        return {**self._describe, "r_version": self.pool.r_version or self._describe.get("r_version")}

    def merged_args(self, args):
        """The sidecar's defaults, then the caller's arguments: only those on
        the model's allow-list, only as plain data (bridge/args.py)."""
        self.arg_spec.check(args)
        return {**self.default_args, **args}, tuple(args)

    def predict_table(self, table, args, timeout=None):
        merged, caller = self.merged_args(args)
        if table.nrows == 0 and not table.columns:
            return EMPTY
        prepared = prepare_table(self.schema, table)
        if table.nrows == 0:
            return EMPTY
        nrows = nrows_of(prepared, table)
        key = None
        if self.batching:
            try:
                key = (self.file_id, self.name, orjson.dumps(merged, option=orjson.OPT_SORT_KEYS),
                       caller, tuple(p.column for p in prepared))
            except orjson.JSONEncodeError:
                key = None  # args too deep to serialise run alone; the worker refuses them
        return self.pool.predict(self, (prepared, nrows, merged, caller), key, nrows,
                                 timeout or self.timeout)


class RemotePlumber:
    """The Plumber files every R worker hosts, as the front's sink sees them."""

    def __init__(self, pool, files, timeout):
        self.pool = pool
        self.files = list(files)
        self.timeout = timeout
        self.routes = []

    def check_bridge_routes(self, templates):
        self.routes = self.pool.call(PlumberInfo(list(templates)), self.timeout, "checking Plumber routes")

    def call(self, method, path, query, headers, body, server):
        return self.pool.call(PlumberCall(method, path, query, headers, body, server), self.timeout,
                              f"{method} {path}")

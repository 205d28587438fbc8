"""What the front holds of things that live in R workers.

`ServedModel` looks like a model to the service (name, schema, describe(),
run()), but it is a view: everything it knows came from the R worker that
loaded the file (bridge/r/model.py `front_view`); the service checks a
request (bridge/table.py prepare_request) and `run` sends it to the pool.
`RemotePlumber` does the same for the Plumber files the workers host.
"""

import orjson

from .messages import Forecast, PlumberCall, PlumberInfo


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
        self.version = view["version"] or None
        self.timeout = view["timeout"] or default_timeout
        self.kind = view["kind"]                # "model" or "forecaster"
        self.forecaster = view["forecaster"]    # forecast.ForecasterInfo for forecasters
        self.reference = view.get("reference")  # bridge/r/reference.py: training data, summarised

    def summary(self):
        return dict(self._summary)

    def describe(self):
        return {**self._describe, "r_version": self.pool.r_version or self._describe.get("r_version")}

    def run(self, request):
        """A prepared request (bridge/table.py prepare_request) -> Prediction,
        from an R worker of the pool (bridge/service's dispatch)."""
        prepared, nrows, merged, caller = request
        key = None
        if self.batching:
            try:
                key = (self.file_id, self.name, orjson.dumps(merged, option=orjson.OPT_SORT_KEYS),
                       caller, tuple(p.column for p in prepared))
            except orjson.JSONEncodeError:
                key = None  # args too deep to serialise run alone; the worker refuses them
        return self.pool.predict(self, request, key, nrows, self.timeout)

    def forecast_request(self, request):
        """A checked ForecastRequest (bridge/forecast.py) -> Forecast, in a worker."""
        return self.pool.call(Forecast(self.file_id, self.name, request), self.timeout,
                              "forecast()", file_id=self.file_id)

    # A shadow call (bridge/versions/shadow.py): only on a spare worker, with
    # its own deadline; errors.NoSpareWorker when no worker is spare.

    def run_spare(self, request, timeout):
        return self.pool.predict_spare(self, request, request[1], min(timeout, self.timeout))

    def forecast_spare(self, request, timeout):
        return self.pool.call_spare(Forecast(self.file_id, self.name, request),
                                    min(timeout, self.timeout), file_id=self.file_id)


class RemotePlumber:
    """The Plumber files every R worker hosts, as the front's sink sees them."""

    def __init__(self, pool, files, timeout, pinned=False):
        self.pool = pool
        self.files = list(files)
        self.timeout = timeout
        # --plumber-workers 1: every Plumber request goes to one R worker, so a
        # file that keeps state in R (an in-memory store) sees all of it.
        self.pinned = pinned
        self.routes = []

    def check_bridge_routes(self, templates):
        self.routes = self.pool.call(PlumberInfo(list(templates)), self.timeout, "checking Plumber routes")

    def call(self, method, path, query, headers, body, server):
        return self.pool.call(PlumberCall(method, path, query, headers, body, server), self.timeout,
                              f"{method} {path}", pinned=self.pinned)
